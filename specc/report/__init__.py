"""Pictures and pages of a finished run: the classifier figures each run writes
(:mod:`specc.report.classes`) and ``specc report``'s self-contained ``report.html``
(:mod:`specc.report.html`)."""
