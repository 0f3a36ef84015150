"""Two CPU processes (gloo) train the quick solo tokenizer: are the ranks' codebooks identical?

Runs the same 2-process fit twice on the synthetic corpus: as shipped (the quantisers are built in
``configure_model``, after the process group exists, so vector-quantize-pytorch turns the codebook
all-reduce on because the world size is 2), and as a control with the all-reduce off (what a
quantiser built in ``__init__``, before Lightning sets up the group, would get). Each rank saves its
codebook buffers at the end; the parent compares them.

    python bench/ddp_codebook_check.py [--synth demo_out/synth] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import lightning.pytorch as pl  # noqa: E402

from data.datamodules import SoloDataModule  # noqa: E402
from tokenizer.lightning import TokenizerStage  # noqa: E402
from tokenizer.motion import MotionTokenizer  # noqa: E402


class UnsyncedStage(TokenizerStage):
    """The control: the quantisers are built with the codebook all-reduce off."""

    def build(self) -> None:
        self.tokenizer = MotionTokenizer(self.config, sync_codebook=False)


class DumpCodebooks(pl.Callback):
    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_fit_end(self, trainer, pl_module) -> None:
        state = {k: v.detach().clone() for k, v in pl_module.state_dict().items() if "_codebook" in k}
        synced = [p.quantizer._codebook.use_ddp for p in pl_module.tokenizer.parts.values()]  # the library's decision
        torch.save({"codebook": state, "synced": synced}, f"{self.folder}/rank{trainer.global_rank}.pt")


def run(stage_cls: type, corpus: Path, steps: int) -> dict:
    pl.seed_everything(0)
    stage = stage_cls({"part_set": "solo", "part": {"width": 32, "depth": 1, "code_dim": 32, "codebook_size": 64,
                                                    "shared_decoder": True, "ema_decay": 0.9}},
                      {"lr": 1e-3, "betas": (0.9, 0.999), "scheduler": "none"})
    dm = SoloDataModule(str(corpus), window=120, stride=8, eval_stride=120, batch_size=8)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=steps, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             limit_val_batches=0, num_sanity_val_steps=0, callbacks=[DumpCodebooks(tmp)])
        start = time.perf_counter()
        trainer.fit(stage, datamodule=dm)
        seconds = time.perf_counter() - start
        a, b = (torch.load(Path(tmp) / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    diff = {k: float((a["codebook"][k].float() - b["codebook"][k].float()).abs().max()) for k in a["codebook"]}
    embed = {k: v for k, v in diff.items() if k.endswith("_codebook.embed")}
    return {"synced": a["synced"], "identical": all(v == 0.0 for v in diff.values()),
            "max_abs_diff_embed": max(embed.values()), "fit_s": round(seconds, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", type=Path, default=ROOT / "demo_out" / "synth")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    corpus = args.synth / "aistpp"
    out = {"shipped (sync on world size > 1)": run(TokenizerStage, corpus, args.steps),
           "control (sync left off)": run(UnsyncedStage, corpus, args.steps)}
    for name, row in out.items():
        print(f"{name}: {json.dumps(row)}", flush=True)
    return out


if __name__ == "__main__":
    main()
