#!/usr/bin/env python3
"""A mutation fuzzer over whole inputs of the real `glmcluster` binary: model directories and batch files.

Each case copies the official fixture model (MP=1 or MP=2), damages one thing the way disks, copies and people do
(flipped bytes or bits, truncation, garbage appended, a zeroed block, shards swapped or missing, config.json fields
set to hostile values, removed or repeated, a broken tokenizer, a bad `latest`, hostile batch lines), runs
`generate` (one process or a 2-rank mpirun) or `batch` on it with a time limit, and judges the outcome:

  crash    the process died of a signal or a Swift trap, or printed a crash report
  hang     it ran past the time limit
  wrong    it exited 0 with other output than the undamaged model gives, after a change to checkpoint bytes
           that the format protects (a checksummed entry), or wrote a batch output line that is not JSON
  unclear  it failed without a one-line "Error: ..." message on stderr

An error with a clear message, or the same output as the undamaged model, passes. Changes to bytes that no
checksum covers (tokenizer files, config values) may legitimately change the output; those count as "changed" in
the summary, not as findings. Findings are kept under --out with the command to reproduce them; the exit status is
1 when there is any.

    python3 scripts/cli-fuzz.py --binary .build/release/glmcluster --seconds 600 --seed 1 --out /tmp/cli-fuzz
"""
import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "Tests/Fixtures/glm-tiny-icetk")
SHARD = "49300/mp_rank_{:02d}_model_states.pt"
GENERATE = ["--prompt", "Tsinghua University is located in [MASK].", "--greedy", "--max-new-tokens", "3", "--json"]
CRASH_MARKERS = ["Fatal error", "Stack dump", "Program crashed", "Segmentation fault", "Illegal instruction",
                 "terminate called", "Aborted"]
HOSTILE_NUMBERS = [0, -1, 1, 2, 3, 7, 255, 65536, 2**31 - 1, 2**31, 2**32, 2**53, 2**62, 2**63 - 1, -2**63,
                   10**12, 10**30, 1e308, -1e308, 1e-320, 0.5, -0.0, 1e39]
HOSTILE_VALUES = HOSTILE_NUMBERS + ["", "x", "ice_text.model", "/dev/zero", "/", "../../etc/passwd", "A" * 5000,
                                    None, True, False, [], {}, [1, 2], {"a": 1}]


def mpi_environment():
    environment = dict(os.environ)
    environment.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none",
                       SWIFT_BACKTRACE="enable=no")
    return environment


class Case:
    def __init__(self, folder, rng, variant):
        self.folder = folder
        self.model = os.path.join(folder, "model")
        self.rng = rng
        self.variant = variant
        self.description = ""
        self.protected = False  # a change the format's checksums cover: output must be an error or unchanged
        shutil.copytree(os.path.join(FIXTURE, variant), self.model)

    def shard(self, rank):
        return os.path.join(self.model, SHARD.format(rank))

    def shards(self):
        return 2 if self.variant == "mp2" else 1

    # Damage to the checkpoint files.

    def checksummed_ranges(self, path):
        """Byte ranges of entries whose CRC-32 GLMCluster checks: the pickle, byteorder and every storage."""
        ranges = []
        with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
            raw = f.read()
            for info in archive.infolist():
                name = info.filename.split("/", 1)[-1]
                if name in ("data.pkl", "byteorder") or name.startswith("data/"):
                    offset = info.header_offset
                    start = offset + 30 + int.from_bytes(raw[offset + 26:offset + 28], "little") + \
                        int.from_bytes(raw[offset + 28:offset + 30], "little")
                    ranges.append((start, start + info.compress_size))
        return ranges

    def damage_checkpoint(self):
        rank = self.rng.randrange(self.shards())
        path = self.shard(rank)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        kind = self.rng.choice(["flip-bit", "flip-byte", "flip-in-entry", "truncate", "append", "zero-block",
                                "tail-bytes", "swap-shards", "remove-shard", "empty-shard"])
        if kind in ("swap-shards", "remove-shard", "empty-shard") and self.shards() == 1:
            kind = "flip-in-entry"
        if kind == "flip-bit":
            at = self.rng.randrange(len(data))
            data[at] ^= 1 << self.rng.randrange(8)
            self.protected = self.inside(path, at)
        elif kind == "flip-byte":
            at = self.rng.randrange(len(data))
            data[at] = self.rng.choice([b for b in range(256) if b != data[at]])
            self.protected = self.inside(path, at)
        elif kind == "flip-in-entry":
            start, end = self.rng.choice([r for r in self.checksummed_ranges(path) if r[1] > r[0]])
            at = self.rng.randrange(start, end)
            data[at] ^= 1 << self.rng.randrange(8)
            self.protected = True
        elif kind == "truncate":
            data = data[:self.rng.randrange(len(data))]
        elif kind == "append":
            data += bytes(self.rng.randrange(256) for _ in range(self.rng.choice([1, 22, 100, 5000])))
        elif kind == "zero-block":
            at = self.rng.randrange(len(data))
            length = self.rng.choice([4, 64, 4096])
            data[at:at + length] = bytes(len(data[at:at + length]))
            self.protected = self.inside(path, at)
        elif kind == "tail-bytes":
            # The end records and central directory: sizes, offsets, counts.
            at = len(data) - 1 - self.rng.randrange(min(len(data), 400))
            data[at] = self.rng.randrange(256)
        if kind == "swap-shards":
            self.protected = True  # each archive names the file torch saved it as
            other = self.shard(1 - rank)
            os.rename(path, path + ".tmp")
            os.rename(other, path)
            os.rename(path + ".tmp", other)
        elif kind == "remove-shard":
            os.remove(path)
        elif kind == "empty-shard":
            open(path, "wb").close()
        else:
            with open(path, "wb") as f:
                f.write(data)
        self.description = f"checkpoint {os.path.basename(path)}: {kind}"

    def inside(self, path, at):
        return any(start <= at < end for start, end in self.checksummed_ranges(path))

    # Damage to config.json, the tokenizer and `latest`.

    def damage_config(self):
        path = os.path.join(self.model, "config.json")
        with open(path) as f:
            config = json.load(f)
        kind = self.rng.choice(["value", "value", "tokenizer-value", "remove", "unknown", "duplicate", "bytes",
                                "truncate", "not-object"])
        field = self.rng.choice(sorted(config))
        if kind == "value":
            config[field] = self.rng.choice(HOSTILE_VALUES)
            text = json.dumps(config)
        elif kind == "tokenizer-value":
            inner = self.rng.choice(sorted(config["tokenizer"]))
            config["tokenizer"][inner] = self.rng.choice(HOSTILE_VALUES)
            field = "tokenizer." + inner
            text = json.dumps(config)
        elif kind == "remove":
            del config[field]
            text = json.dumps(config)
        elif kind == "unknown":
            config["unknown_" + field] = self.rng.choice(HOSTILE_VALUES)
            text = json.dumps(config)
        elif kind == "duplicate":
            text = json.dumps(config)[:-1] + f', "{field}": {json.dumps(self.rng.choice(HOSTILE_VALUES))}}}'
        elif kind == "bytes":
            raw = bytearray(json.dumps(config).encode())
            for _ in range(self.rng.randrange(1, 4)):
                raw[self.rng.randrange(len(raw))] = self.rng.randrange(256)
            text = raw.decode("latin-1")
        elif kind == "truncate":
            raw = json.dumps(config)
            text = raw[:self.rng.randrange(len(raw))]
        else:
            text = json.dumps(self.rng.choice([[config], "config", 12, None]))
        with open(path, "w", encoding="latin-1") as f:
            f.write(text)
        self.description = f"config.json: {kind} {field}"

    def damage_tokenizer(self):
        path = os.path.join(self.model, "ice_text.model")
        kind = self.rng.choice(["flip-bytes", "truncate", "empty", "directory", "dev-zero", "garbage"])
        if kind == "flip-bytes":
            with open(path, "rb") as f:
                data = bytearray(f.read())
            for _ in range(self.rng.randrange(1, 8)):
                data[self.rng.randrange(len(data))] = self.rng.randrange(256)
            with open(path, "wb") as f:
                f.write(data)
        elif kind == "truncate":
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[:self.rng.randrange(len(data))])
        elif kind == "empty":
            open(path, "wb").close()
        elif kind == "directory":
            os.remove(path)
            os.mkdir(path)
        elif kind == "dev-zero":
            os.remove(path)
            os.symlink("/dev/zero", path)
        else:
            with open(path, "wb") as f:
                f.write(bytes(self.rng.randrange(256) for _ in range(self.rng.choice([1, 100, 10000]))))
        self.description = f"ice_text.model: {kind}"

    def damage_latest(self):
        path = os.path.join(self.model, "latest")
        text = self.rng.choice(["", "49301", "-1", "../..", "49300\n49300", "9" * 40, "\x00", "49300 ", "/etc"])
        with open(path, "w") as f:
            f.write(text)
        self.description = f"latest: {text!r}"


def batch_lines(rng):
    """A batch file with some hostile lines among ordinary ones."""
    fields = ["max_new_tokens", "max_length", "temperature", "top_k", "top_p", "seed", "greedy", "num_beams",
              "length_penalty", "no_repeat_ngram_size", "min_gen_length"]
    lines = []
    for index in range(rng.randrange(1, 6)):
        line = {"id": rng.choice([index, f"r{index}", index, 0]), "prompt": rng.choice(
            ["hello [MASK] world", "清华大学位于[MASK]。", "[gMASK][sMASK][MASK]", "", "x" * rng.choice([10, 3000]),
             "\ud83d\ude00 emoji", "tabs\tand\nlines"])}
        line["max_new_tokens"] = 2
        for _ in range(rng.randrange(0, 3)):
            line[rng.choice(fields)] = rng.choice(HOSTILE_VALUES)
        # Lone surrogates (the emoji prompt with ensure_ascii off) become invalid UTF-8 on purpose.
        raw = bytearray(json.dumps(line, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass"))
        mutation = rng.random()
        if mutation < 0.1:
            raw = raw[:rng.randrange(len(raw))]
        elif mutation < 0.15:
            raw = raw[:-1] + b', "id": 9}'
        elif mutation < 0.2:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        lines.append(bytes(raw))
    return b"\n".join(lines) + rng.choice([b"\n", b"", b"\r\n", b"\n\n"])


def deterministic(stdout):
    """The output without what differs from run to run (each rank's peak RSS and timings in --json)."""
    try:
        value = json.loads(stdout)
    except ValueError:
        return stdout
    if isinstance(value, dict):
        value.pop("ranks", None)
    return json.dumps(value, sort_keys=True)


def run(command, timeout, environment):
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return process.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), \
            time.time() - started
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return None, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), time.time() - started


def command_for(binary, model, ranks, extra):
    if ranks == 1:
        return [binary] + extra
    return ["mpirun", "-np", str(ranks), "--bind-to", "none", binary] + extra


def judge(status, stdout, stderr, control, protected):
    if status is None:
        return "hang"
    if status < 0 or status in (132, 133, 134, 135, 136, 137, 139) or any(m in stderr for m in CRASH_MARKERS):
        return "crash"
    if status == 0:
        if control is not None and deterministic(stdout) != deterministic(control):
            return "wrong" if protected else "changed"
        return "same"
    if "Error: " not in stderr:
        return "unclear"
    return "error"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/glmcluster"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cases", type=int, default=0, help="stop after this many cases (0: only the time limit)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "glmcluster-cli-fuzz"))
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a case counts as a hang")
    parser.add_argument("--mpi-share", type=float, default=0.25, help="share of generate cases run on 2 ranks")
    arguments = parser.parse_args()
    binary = os.path.abspath(arguments.binary)
    rng = random.Random(arguments.seed)
    environment = mpi_environment()
    os.makedirs(arguments.out, exist_ok=True)

    controls = {}
    for variant in ("mp1", "mp2"):
        status, stdout, stderr, _ = run([binary, "generate", "--model", os.path.join(FIXTURE, variant)] + GENERATE,
                                        arguments.timeout, environment)
        if status != 0:
            sys.exit(f"the undamaged {variant} model fails: {stderr}")
        controls[variant] = stdout

    outcomes = collections.Counter()
    findings = []
    started = time.time()
    number = 0
    while time.time() - started < arguments.seconds and (arguments.cases == 0 or number < arguments.cases):
        number += 1
        folder = tempfile.mkdtemp(prefix="case-", dir=arguments.out)
        case = Case(folder, rng, rng.choice(["mp1", "mp2"]))
        target = rng.choices(["checkpoint", "config", "tokenizer", "latest", "batch"], [5, 4, 2, 1, 3])[0]
        ranks = 2 if rng.random() < arguments.mpi_share else 1
        control = controls[case.variant]
        if target == "batch":
            batch_input = os.path.join(folder, "input.jsonl")
            output = os.path.join(folder, "output.jsonl")
            with open(batch_input, "wb") as f:
                f.write(batch_lines(rng))
            case.description = "batch input"
            extra = ["batch", "--model", case.model, "--input", batch_input, "--output", output, "--quiet"]
            control = None
        else:
            getattr(case, "damage_" + target)()
            extra = ["generate", "--model", case.model] + GENERATE
        command = command_for(binary, case.model, ranks, extra)
        status, stdout, stderr, seconds = run(command, arguments.timeout, environment)
        verdict = judge(status, stdout, stderr, control, case.protected)
        if target == "batch" and status == 3 and "[batch] summary:" in stderr:
            verdict = "error"  # some lines malformed or failed: each reported, the others ran
        if target == "batch" and os.path.exists(output):
            with open(output, "rb") as f:
                for line in f.read().splitlines():
                    try:
                        if not isinstance(json.loads(line), dict):
                            raise ValueError
                    except ValueError:
                        verdict = "wrong"
        outcomes[(target, verdict)] += 1
        with open(os.path.join(arguments.out, "cases.tsv"), "a") as f:
            f.write(f"{number}\t{verdict}\t{status}\t{seconds:.2f}\t{ranks}\t{case.variant}\t{case.description}\n")
        if verdict in ("crash", "hang", "wrong", "unclear"):
            findings.append(folder)
            with open(os.path.join(folder, "finding.txt"), "w") as f:
                f.write(f"{verdict}: {case.description}\nstatus {status} after {seconds:.1f} s\n"
                        f"command: {' '.join(command)}\n--- stderr\n{stderr[-4000:]}\n--- stdout\n{stdout[-2000:]}\n")
            print(f"case {number}: {verdict.upper()}: {case.description} (status {status}); kept in {folder}",
                  file=sys.stderr)
        else:
            shutil.rmtree(folder)
    elapsed = time.time() - started
    print(f"cli-fuzz: {number} cases in {elapsed:.0f} s (seed {arguments.seed}), {len(findings)} findings")
    for target in ["checkpoint", "config", "tokenizer", "latest", "batch"]:
        counts = {verdict: count for (t, verdict), count in sorted(outcomes.items()) if t == target}
        print(f"  {target}: " + ", ".join(f"{verdict} {count}" for verdict, count in counts.items()))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
