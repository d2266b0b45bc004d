"""Backends: the graph IR of a validated spec rendered as Python source, and that source
compiled into a live ``nn.Module`` (the torch.fx approach: one text, so no drift).

- :mod:`specc.backends.source`: ``render_model_source(spec)``, ``class_name(spec)``.
- :mod:`specc.backends.train_source`: ``render_train_source(spec)``, the standalone train.py.
- :mod:`specc.backends.emit`: ``emit(spec, out_dir)`` writes model.py (and train.py).
- :mod:`specc.backends.module`: ``build_model(spec)``, the generated class, executed.
"""
