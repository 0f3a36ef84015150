"""Training helpers every stage shares: config coercion and checks, optimiser and schedule configs,
the process group's size, checkpoint reading, and the base LightningModule of a training stage.

It sits just above :mod:`data` (it uses only :mod:`data.errors`), and every model package
(:mod:`tokenizer`, :mod:`gpt`, :mod:`duet`, :mod:`camera`) imports it instead of keeping a copy. Only
:mod:`training.stage` imports Lightning; the rest is plain torch, so checkpoint loading for generation
stays Lightning-free.
"""
