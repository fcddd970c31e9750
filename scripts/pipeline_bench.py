"""murmur's pipeline benchmark (run through scripts/bench, which builds the binaries and passes paths).

In one run, on this machine:
  1. the broker's own ceiling: a plain producer then a plain consumer (confluent-kafka, the same
     librdkafka as the services) move N messages of the stream's mean protobuf size through a fresh
     topic (measured after run 2, at the mean size of its scored posts); produce/s and consume/s;
  2. the pipeline at full speed: the ingestor replays the simulator's stream as fast as it can into
     fresh topics, the lexicon scorer and the aggregator follow; sustained posts/s end to end (first
     publish to last post stored), consumer lag over time, each service's RSS and CPU (from /proc);
  3. the pipeline at a fixed rate (default 2,000 posts/s): the same, plus latency from ingest
     (`observed_at`, set by the ingestor) to queryable (`stored_at`, the aggregator's commit) as
     p50/p99 over every post, computed in Postgres.

Figures are printed and written as JSON to the output file.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BROKERS = os.environ.get("KAFKA_BROKERS", "127.0.0.1:9092")
PG_ADMIN = ["psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-U", "postgres"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_topics(prefix, names, partitions=3):
    admin = AdminClient({"bootstrap.servers": BROKERS})
    topics = {name: f"bench.{prefix}.{name}.{uuid.uuid4().hex[:12]}" for name in names}
    futures = admin.create_topics([NewTopic(topic, partitions, 1) for topic in topics.values()])
    for future in futures.values():
        future.result(30)
    return topics


def sql(database, query):
    out = subprocess.run(PG_ADMIN + ["-d", database, "-c", query], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def fresh_database():
    name = f"murmur_bench_{uuid.uuid4().hex[:12]}"
    sql("postgres", f"CREATE DATABASE {name}")
    return name


def broker_ceiling(count, size):
    """Plain produce then plain consume of `count` messages of `size` bytes."""
    topic = fresh_topics("ceiling", ["plain"])["plain"]
    producer = Producer({"bootstrap.servers": BROKERS, "linger.ms": 5, "compression.type": "lz4",
                         "batch.size": 1_000_000, "enable.idempotence": True})
    payload = os.urandom(size // 2).hex().encode()[:size]
    started = time.monotonic()
    for index in range(count):
        while True:
            try:
                producer.produce(topic, key=str(index).encode(), value=payload)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
    produce_seconds = time.monotonic() - started
    consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": f"ceiling-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.max.bytes": 8 * 1024 * 1024, "max.partition.fetch.bytes": 2 * 1024 * 1024})
    consumer.subscribe([topic])
    received, first = 0, None
    deadline = time.monotonic() + 300
    while received < count and time.monotonic() < deadline:
        for message in consumer.consume(1000, 0.5):
            if message.error():
                continue
            if first is None:
                first = time.monotonic()
            received += 1
    consume_seconds = time.monotonic() - (first or time.monotonic())
    consumer.close()
    return {
        "messages": count, "bytes": size, "consumed": received,
        "produce_per_s": round(count / produce_seconds), "consume_per_s": round(received / max(consume_seconds, 1e-9)),
    }


def mean_message_bytes(topic, sample=2000):
    consumer = Consumer({"bootstrap.servers": BROKERS, "group.id": f"size-{uuid.uuid4().hex}", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    sizes = []
    deadline = time.monotonic() + 60
    while len(sizes) < sample and time.monotonic() < deadline:
        sizes.extend(len(m.value()) for m in consumer.consume(500, 0.5) if not m.error() and m.value())
    consumer.close()
    return round(sum(sizes) / len(sizes)) if sizes else 400


def metric(port, name):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3).read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in body.splitlines():
        if re.match(rf"^{re.escape(name)}(\{{| )", line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def pids_of(name):
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def tansu_pids():
    pid_file = os.path.join(os.environ.get("MURMUR_CACHE", os.path.expanduser("~/.cache/murmur")), "stack", "tansu.pid")
    try:
        with open(pid_file) as handle:
            return [int(handle.read().strip())]
    except (OSError, ValueError):
        return []


def proc_sample(pid):
    """(rss MiB, cpu seconds) of a process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        with open(f"/proc/{pid}/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
        return rss, cpu
    except (OSError, StopIteration):
        return 0.0, 0.0


class Service:
    def __init__(self, binary, name, env, log_dir):
        self.name = name
        self.admin = free_port()
        full_env = dict(os.environ, MURMUR_GRPC_ADDR=f"127.0.0.1:{free_port()}", MURMUR_ADMIN_ADDR=f"127.0.0.1:{self.admin}",
                        MURMUR_LOG_FORMAT="text", RUST_LOG="warn", **env)
        full_env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.log = open(os.path.join(log_dir, f"{name}.log"), "w")
        self.process = subprocess.Popen([binary], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/readyz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early; see {self.log.name}")
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready; see {self.log.name}")

    def wait_metric(self, name, timeout=180):
        deadline = time.monotonic() + timeout
        while metric(self.admin, name) <= 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: {name} stayed 0; see {self.log.name}")
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def run_pipeline(args, speed, label):
    topics = fresh_topics(label, ["raw", "scored", "alerts", "dlq"])
    database = fresh_database()
    url = f"postgres://postgres@127.0.0.1:5432/{database}"
    log_dir = os.path.join(args.work_dir, label)
    os.makedirs(log_dir, exist_ok=True)
    common = {"DATABASE_URL": url}
    scorer = Service(args.scorer, "sentiment-scorer", dict(common, MURMUR_INPUT_TOPIC=topics["raw"], MURMUR_OUTPUT_TOPIC=topics["scored"],
                     MURMUR_DEADLETTER_TOPIC=topics["dlq"], KAFKA_GROUP_ID=f"scorer-{label}-{database}"), log_dir)
    scorer.wait_ready()
    ingestor = Service(args.ingestor, "ingestor", dict(common, MURMUR_OUTPUT_TOPIC=topics["raw"], MURMUR_DEV_MODE="true",
                       MURMUR_REPLAY_FILE=args.stream, MURMUR_REPLAY_SPEED=speed), log_dir)
    ingestor.wait_ready()
    # One consumer group joins at a time (tansu's coordinator can stall on concurrent joins).
    scorer.wait_metric("murmur_kafka_consumed_total")
    aggregator = Service(args.aggregator, "metrics-aggregator", dict(common, MURMUR_INPUT_TOPIC=topics["scored"],
                         MURMUR_ALERTS_TOPIC=topics["alerts"], MURMUR_DEADLETTER_TOPIC=topics["dlq"],
                         KAFKA_GROUP_ID=f"aggregator-{label}-{database}"), log_dir)
    aggregator.wait_ready()
    services = [ingestor, scorer, aggregator]
    # The shared infrastructure on the same two cores: the broker and Postgres.
    infra = {"tansu": tansu_pids, "postgres": lambda: pids_of("postgres")}
    samples = []
    started = time.monotonic()
    cpu_start = {service.name: proc_sample(service.process.pid)[1] for service in services}
    # Per process CPU at the start (Postgres backends started later count from 0).
    infra_start = {name: {pid: proc_sample(pid)[1] for pid in pids()} for name, pids in infra.items()}
    last_progress, last_stored = time.monotonic(), -1
    while True:
        time.sleep(1)
        now = time.monotonic() - started
        stored = metric(aggregator.admin, "murmur_aggregator_posts_stored_total")
        sample = {
            "t": round(now, 1),
            "published": metric(ingestor.admin, "murmur_ingestor_posts_published_total"),
            "scored": metric(scorer.admin, "murmur_kafka_produced_total"),
            "stored": stored,
            "scorer_lag": metric(scorer.admin, "murmur_kafka_consumer_lag_messages"),
            "aggregator_lag": metric(aggregator.admin, "murmur_kafka_consumer_lag_messages"),
        }
        for service in services:
            rss, cpu = proc_sample(service.process.pid)
            sample[f"{service.name}_rss_mib"] = round(rss, 1)
            sample[f"{service.name}_cpu_s"] = round(cpu - cpu_start[service.name], 2)
        for name, pids in infra.items():
            used = sum(proc_sample(pid)[1] - infra_start[name].get(pid, 0.0) for pid in pids())
            sample[f"{name}_cpu_s"] = round(used, 2)
        samples.append(sample)
        if len(samples) % 5 == 0:
            log(f"{label}: t={now:.0f}s published {sample['published']:.0f} scored {sample['scored']:.0f} "
                f"stored {stored:.0f}/{args.total} lag scorer {sample['scorer_lag']:.0f} aggregator {sample['aggregator_lag']:.0f}")
        if stored != last_stored:
            last_stored, last_progress = stored, time.monotonic()
        if stored >= args.total or time.monotonic() - last_progress > 120:
            break
    for service in services:
        service.stop()
    timing = sql(database, "SELECT extract(epoch FROM min(observed_at)), extract(epoch FROM max(stored_at)), count(*), "
                           "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - observed_at)), "
                           "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - observed_at)), "
                           "max(extract(epoch FROM stored_at - observed_at)) FROM posts").split("|")
    first_ingest, last_stored_at, stored_rows, p50, p99, worst = (float(value or 0) for value in timing)
    elapsed = max(samples[-1]["t"], 1e-9)
    result = {
        "label": label, "speed": speed, "posts": args.total, "stored": int(stored_rows),
        "end_to_end_posts_per_s": round(stored_rows / max(last_stored_at - first_ingest, 1e-9)),
        "ingest_to_queryable_p50_ms": round(p50 * 1000), "ingest_to_queryable_p99_ms": round(p99 * 1000),
        "ingest_to_queryable_max_ms": round(worst * 1000),
        "peak_rss_mib": {service.name: max(sample[f"{service.name}_rss_mib"] for sample in samples) for service in services},
        "cpu_share_of_one_core": {name: round(samples[-1][f"{name}_cpu_s"] / elapsed, 2)
                                  for name in [service.name for service in services] + list(infra)},
        "max_lag": {"scorer": max(s["scorer_lag"] for s in samples), "aggregator": max(s["aggregator_lag"] for s in samples)},
        "samples": samples,
        "scored_topic": topics["scored"],
    }
    sql("postgres", f"DROP DATABASE {database} WITH (FORCE)")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", required=True, help="replay JSONL from murmur-sim generate")
    parser.add_argument("--ingestor", required=True)
    parser.add_argument("--scorer", required=True)
    parser.add_argument("--aggregator", required=True)
    parser.add_argument("--rate", default="2000/s", help="the fixed-rate run's replay speed")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.stream) as stream:
        args.total = sum(1 for _ in stream)
    full = run_pipeline(args, "max", "full-speed")
    message_bytes = mean_message_bytes(full["scored_topic"])
    log(f"broker ceiling: {args.total} plain messages of {message_bytes} bytes (the scored posts' mean size)")
    ceiling = broker_ceiling(args.total, message_bytes)
    log(f"broker ceiling: produce {ceiling['produce_per_s']}/s, consume {ceiling['consume_per_s']}/s")
    fixed = run_pipeline(args, args.rate, "fixed-rate")
    report = {"machine": {"cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}, "broker_ceiling": ceiling,
              "full_speed": full, "fixed_rate": fixed}
    with open(args.out, "w") as out:
        json.dump(report, out, indent=1)
    # One message produced then consumed: the broker's plain produce->consume rate.
    ceiling_rate = round(1 / (1 / ceiling["produce_per_s"] + 1 / ceiling["consume_per_s"]))
    report["broker_ceiling"]["produce_then_consume_per_s"] = ceiling_rate
    with open(args.out, "w") as out:
        json.dump(report, out, indent=1)
    print(f"\nmurmur pipeline benchmark ({report['machine']['date']}, {report['machine']['cores']} cores, {args.total} posts)")
    print(f"  broker ceiling (plain produce / consume, {message_bytes} B): {ceiling['produce_per_s']}/s / {ceiling['consume_per_s']}/s,"
          f" produce->consume {ceiling_rate}/s")
    for run in (full, fixed):
        print(f"  {run['label']} (replay {run['speed']}): {run['end_to_end_posts_per_s']} posts/s end to end "
              f"({run['end_to_end_posts_per_s'] / ceiling_rate:.0%} of the ceiling), stored {run['stored']}/{run['posts']}, "
              f"ingest->queryable p50 {run['ingest_to_queryable_p50_ms']} ms p99 {run['ingest_to_queryable_p99_ms']} ms, "
              f"max lag scorer {run['max_lag']['scorer']:.0f} aggregator {run['max_lag']['aggregator']:.0f}")
        print(f"    peak RSS MiB {run['peak_rss_mib']}; CPU (cores) {run['cpu_share_of_one_core']}")
    print(f"  full report with the lag/RSS/CPU time series: {args.out}")


if __name__ == "__main__":
    main()
