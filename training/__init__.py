"""Training helpers every stage shares: config coercion and checks, optimiser and schedule configs,
the process group's size, checkpoint reading, the base LightningModule of a training stage, and
running the quick configs from scripts (:mod:`training.quick`, what the demo trains with).

It sits above :mod:`data` and :mod:`metrics` (the preview callback draws beat plots), and every model package
(:mod:`tokenizer`, :mod:`gpt`, :mod:`duet`, :mod:`camera`) imports it instead of keeping a copy. Only
:mod:`training.stage`, :mod:`training.resume` (atomic checkpoint writes and ``--ckpt_path`` checks
for ``cli.py``) and :mod:`training.previews` (the preview-video callback; it draws with :mod:`data.render`
and :mod:`metrics.plots`, and asks the stage for what to draw) import Lightning; checkpoint reading
(:mod:`training.checkpoint`) is plain torch, so loading for generation stays Lightning-free.
"""
