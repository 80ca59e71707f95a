//! Fleet replay rate, in machines per second: `certmig fleet --machines N`
//! replays every machine through the scenario engine (rayon across the
//! cores) and counts as it streams.
//!
//! - `fleet/draw`: the fleet's own per-machine work alone (draw the
//!   attributes from the mix, apply the plan, find the tally cell);
//! - `fleet/draw+scenario`: the above plus building the machine's scenario;
//! - `fleet/run/<plan>`: whole populations with the default mix, on every
//!   core, for three plans (`none`: most machines stop at Capture User
//!   State; `ccmcertfix-before-ts`: every machine runs the reference
//!   CCMCertFix and then the whole sequence; the example plan of
//!   `scenarios/fleet/`);
//! - `fleet/run-1-thread/<plan>`: the same on one core (the per-core rate).
//!
//! Target: 1 000 000 machines in at most 30 s on two cores, i.e. at least
//! 33 000 machines/s on `fleet/run`. Run: `cargo bench --bench fleet`.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use certmig::fleet::{MachineProfile, Mix, Plan, Population};
use certmig::sim::scenario::Remediation;

fn plans() -> Vec<(&'static str, Plan)> {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fleet/example-plan.toml");
    vec![
        ("none", Plan::global(Remediation::None)),
        (
            "ccmcertfix-before-ts",
            Plan::global(Remediation::CcmcertfixBeforeTs),
        ),
        ("example-plan", Plan::load(&example).expect("example plan")),
    ]
}

fn fleet_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("fleet");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(5));
    let mix = Mix::default();
    let plan = plans().remove(2).1;

    let n = 100_000u64;
    g.throughput(Throughput::Elements(n));
    g.bench_function("draw", |b| {
        b.iter(|| {
            let mut x = 0usize;
            for i in 0..n {
                x ^= MachineProfile::draw(&mix, &plan, black_box(1), i).cell();
            }
            black_box(x)
        })
    });
    g.bench_function("draw+scenario", |b| {
        b.iter(|| {
            let mut x = 0u64;
            for i in 0..n {
                let p = MachineProfile::draw(&mix, &plan, black_box(1), i);
                let s = p.scenario(MachineProfile::scenario_seed(1, i), plan.policy);
                x ^= s.seed;
            }
            black_box(x)
        })
    });

    let machines = 20_000u64;
    g.throughput(Throughput::Elements(machines));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    for (name, plan) in plans() {
        let pop = Population {
            machines,
            seed: 1,
            mix: mix.clone(),
            plan,
        };
        // Warm the engine's certificate cache: signing is generation, not replay.
        black_box(pop.run(&|_| {}));
        g.bench_with_input(BenchmarkId::new("run", name), &pop, |b, pop| {
            b.iter(|| black_box(pop.run(&|_| {})).total().machines)
        });
        g.bench_with_input(BenchmarkId::new("run-1-thread", name), &pop, |b, pop| {
            b.iter(|| one.install(|| black_box(pop.run(&|_| {})).total().machines))
        });
    }
    g.finish();
}

criterion_group!(benches, fleet_benches);
criterion_main!(benches);
