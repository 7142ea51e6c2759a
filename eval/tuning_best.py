"""The best configuration per system of a tuning run, on dev BLEU.

    python -m eval.tuning_best runs/tune/eval/results.json [--metric tok_bleu] [--winner SYSTEM]

reads ``reencoder-eval``'s results for systems named ``SYSTEM_tTOKENS_lrLR_wWARMUP[_fp32|_bf16]``
(recipes/tune_demo.sh; the suffix pins the grid's GEMMs to ``--grid-bf16 never|always``) or
``SYSTEM_tTOKENS_lrLR_wWARMUP_SCHEDULEMIN_dDROPOUT`` (recipes/tune_full.sh) and prints, per system, every
configuration ranked by dev BLEU (ties:
chrF) and the winner as the ``DEMO_*`` line of recipes/lib.sh, or as the settings of
recipes/tatoeba_full.sh.  ``--metric tok_bleu`` ranks by the tokenized, lowercased BLEU
(``reencoder-eval --tok-bleu``: recipes/tvsub.sh); ``--winner SYSTEM`` prints only that
system's winner as ``NAME FAIRSEQ-FLAGS...`` (``NAME --max-tokens T --lr L --warmup-updates W``),
for a recipe to read.
"""
from __future__ import annotations

import re
import sys
from typing import Dict, List, Optional

from data_prep.foundation import Parser, UserError, run_main

from .pick import read_results

NAME = re.compile(r"^(?P<system>[a-z]+)_t(?P<tokens>\d+)_lr(?P<lr>[0-9.e-]+)_w(?P<warmup>\d+)"
                  r"(?:_(?P<schedule>wallclock|invsqrt)(?P<minutes>[0-9.]+)_d(?P<dropout>[0-9.]+)|_(?P<precision>fp32|bf16))?$")
PRECISION_FLAG = {"fp32": " --grid-bf16 never", "bf16": " --grid-bf16 always", None: ""}
#: rankable scores of reencoder-eval's results.json -> their name in the report
METRICS = {"bleu": "BLEU", "tok_bleu": "BLEU (tok, lc)"}


def best_per_system(results: dict, source: str = "results.json", metric: str = "bleu") -> Dict[str, List[dict]]:
    """``{system: [configuration, ...]}``, each list best first (dev ``metric``, then chrF)."""
    by_system: Dict[str, List[dict]] = {}
    for s in results.get("systems", []):
        m = NAME.match(s["name"])
        if not m:
            raise UserError(f"{source}: system {s['name']!r} is not named SYSTEM_tTOKENS_lrLR_wWARMUP"
                            "[_SCHEDULEMIN_dDROPOUT|_fp32|_bf16]")
        if s.get(metric) is None:
            raise UserError(f"{source}: system {s['name']!r} has no {metric} score")
        by_system.setdefault(m["system"], []).append({**m.groupdict(), "name": s["name"], "bleu": s[metric],
                                                       "chrf": s["chrf"]})
    if not by_system:
        raise UserError(f"{source}: no systems")
    return {k: sorted(v, key=lambda c: (-c["bleu"], -c["chrf"])) for k, v in by_system.items()}


def winner_flags(ranked: Dict[str, List[dict]], system: str) -> str:
    """``NAME --max-tokens T --lr L --warmup-updates W[ --grid-bf16 ...]`` of ``system``'s winner."""
    if system not in ranked:
        raise UserError(f"no tuning run of system {system!r} (have: {', '.join(ranked)})")
    w = ranked[system][0]
    return (f"{w['name']} --max-tokens {w['tokens']} --lr {w['lr']} --warmup-updates {w['warmup']}"
            f"{PRECISION_FLAG[w['precision']]}")


def report(ranked: Dict[str, List[dict]], metric_name: str = "BLEU") -> str:
    lines = []
    for system, configs in ranked.items():
        for i, c in enumerate(configs):
            lines.append(f"{'*' if i == 0 else ' '} {c['name']}: dev {metric_name} {c['bleu']:.2f}, chrF {c['chrf']:.2f}")
        w = configs[0]
        if w["schedule"] is None:
            lines.append(f"  -> DEMO_{system.upper()}=(--max-tokens {w['tokens']} --lr {w['lr']} "
                         f"--warmup-updates {w['warmup']}{PRECISION_FLAG[w['precision']]})")
        else:
            schedule = "inverse_sqrt" if w["schedule"] == "invsqrt" else w["schedule"]
            lines.append(f"  -> SYSTEM={system} MAX_TOKENS={w['tokens']} LR={w['lr']} WARMUP={w['warmup']} "
                         f"SCHEDULE={schedule} BUDGET_MIN={w['minutes']} EXTRA_TRAIN_ARGS=\"--dropout {w['dropout']}\" "
                         "bash recipes/tatoeba_full.sh")
    return "\n".join(lines)


def _main(argv: Optional[List[str]]) -> int:
    p = Parser(prog="python -m eval.tuning_best", description=__doc__.splitlines()[0])
    p.add_argument("results", help="reencoder-eval's results.json of the tuning runs' dev decodes")
    p.add_argument("--metric", choices=tuple(METRICS), default="bleu",
                   help="rank by sacrebleu's BLEU (default) or the tokenized, lowercased BLEU of --tok-bleu")
    p.add_argument("--winner", metavar="SYSTEM", help="print only SYSTEM's winner: NAME FAIRSEQ-FLAGS...")
    args = p.parse_args(argv)
    ranked = best_per_system(read_results(args.results), args.results, args.metric)
    print(winner_flags(ranked, args.winner) if args.winner else report(ranked, METRICS[args.metric]))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
