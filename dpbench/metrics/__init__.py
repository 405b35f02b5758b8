"""dpbench's metrics: pure functions of arrays, no torch.

Depth (``depth.py``), boundary sharpness (``boundary.py``, with its slow faithful port
``boundary_reference.py``), focal length (``focal.py``). Which metrics a run reports, their labels
and which direction is better are declared by the tasks (:mod:`dpbench.tasks`,
:func:`dpbench.tasks.metric_info`).
"""
