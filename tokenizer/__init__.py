"""Choreographic memory: part-wise motion VQ-VAEs and the relative-translation VQ-VAE.

Modules (imports are left to the caller: vector-quantize-pytorch and Lightning are slow to import):

* :mod:`tokenizer.vqvae`: ``PartVQVAEConfig`` / ``PartVQVAE``, one body part's conv VQ-VAE;
* :mod:`tokenizer.motion`: ``MotionTokenizerConfig`` / ``MotionTokenizer``, the part set (solo or duet)
  with root-velocity and 6D rotation heads;
* :mod:`tokenizer.translation`: ``TranslationConfig`` / ``RelativeTranslationVQVAE``;
* :mod:`tokenizer.losses`: L1 with derivatives, FreqVQ's focal frequency loss;
* :mod:`tokenizer.evaluation`: MPJPE, drift, codebook usage, velocity spectrum error;
* :mod:`tokenizer.lightning`: ``TokenizerStage`` and ``TranslationStage`` (what the YAMLs train);
* :mod:`tokenizer.pretrained`: ``Tokenizer`` / ``TranslationTokenizer`` from a checkpoint, no Lightning;
* :mod:`tokenizer.demo`: the tokenizer part of ``make demo``.
"""
