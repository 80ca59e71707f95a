//! `certmig fleet`: a synthetic fleet replayed through the simulator, or a
//! directory of real `reg export`s judged machine by machine.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use comfy_table::{presets, CellAlignment, Table};

use super::{print_json, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK};
use certmig::fleet::inventory::{assess_dir, InventoryOptions, InventoryReport, MachineSet};
use certmig::fleet::report::{group_digits, percent, SegmentRow};
use certmig::fleet::{FleetReport, Mix, Plan, Population};
use certmig::sim::model::Os;
use certmig::sim::scenario::Remediation;

#[derive(Debug, Args)]
#[command(after_help = "\
Synthetic fleet: machine i's attributes (kind, source OS and KB974571, client version and
hotfix, certificate defect, target OS and KB974571 before restore, state store) are drawn from
the mix with a generator seeded by (seed, i); each machine is replayed through the task-sequence
simulator with the plan's remediation, in parallel, and counted as it streams (memory does not
grow with --machines). Mix and plan formats: scenarios/fleet/README.md.

Real inventory: DIR holds one `reg export HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\SMS`
per machine (file name = machine name). Capture is judged under the source's rules (legacy
unless --source-kb974571 / --source-kb974571-list says KB974571 is installed), restore under
the target's. Actions: none, run-ccmcertfix (client has 977203), install-client-hotfix-and-
run-ccmcertfix, extract-ccmcertfix-with-x (site has 977384), investigate (a certificate
CCMCertFix cannot repair).

Exit codes: 0 report written (whatever it predicts); 2 bad input: a malformed mix or plan
file, a missing DIR, or any export in DIR that could not be read (each listed with its error);
1 any other failure.

Examples:
  certmig fleet --machines 1000000 --seed 1
  certmig fleet --machines 100000 --mix scenarios/fleet/example-mix.toml --plan scenarios/fleet/example-plan.toml --html fleet.html
  certmig fleet --machines 10000 --remediation ccmcertfix-step --csv > cells.csv
  certmig fleet --inventory exports/ --target win7-sp1 --site-has-977384 --csv > readiness.csv")]
pub struct FleetArgs {
    /// Synthetic fleet: number of machines to replay.
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "inventory",
        conflicts_with = "inventory"
    )]
    pub machines: Option<u64>,
    /// Synthetic fleet: seed; the same seed, mix and plan always give the same report.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Synthetic fleet: the population's distribution (TOML; default: the built-in mix).
    #[arg(long, value_name = "FILE", conflicts_with = "inventory")]
    pub mix: Option<PathBuf>,
    /// Synthetic fleet: remediation per segment (TOML; default: none anywhere).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["inventory", "remediation"])]
    pub plan: Option<PathBuf>,
    /// Synthetic fleet: one remediation for every machine.
    #[arg(long, value_parser = super::choice::<Remediation>(), conflicts_with = "inventory")]
    pub remediation: Option<Remediation>,
    /// Synthetic fleet: also write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE", conflicts_with = "inventory")]
    pub html: Option<PathBuf>,

    /// Real inventory: a directory of `reg export`s of the SMS store, one per machine.
    #[arg(long, value_name = "DIR")]
    pub inventory: Option<PathBuf>,
    /// Real inventory: the OS the task sequence applies.
    #[arg(long, value_parser = super::choice::<Os>(), requires = "inventory")]
    pub target: Option<Os>,
    /// Real inventory: KB974571 is installed on the target before Restore User State.
    #[arg(long, requires = "inventory")]
    pub target_kb974571: bool,
    /// Real inventory: every source has KB974571 (capture is judged under ms09-056).
    #[arg(long, requires = "inventory", conflicts_with = "source_kb974571_list")]
    pub source_kb974571: bool,
    /// Real inventory: the sources that have KB974571, one machine name per line.
    #[arg(long, value_name = "FILE", requires = "inventory")]
    pub source_kb974571_list: Option<PathBuf>,
    /// Real inventory: every client already has the 977203 client hotfix.
    #[arg(
        long,
        requires = "inventory",
        conflicts_with = "client_hotfix_977203_list"
    )]
    pub client_hotfix_977203: bool,
    /// Real inventory: the clients that have the 977203 client hotfix, one machine name per line.
    #[arg(long, value_name = "FILE", requires = "inventory")]
    pub client_hotfix_977203_list: Option<PathBuf>,
    /// Real inventory: the site server has 977384 (so CCMCertFix must be extracted with /x).
    #[arg(long, requires = "inventory")]
    pub site_has_977384: bool,

    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (synthetic: one row per combination of attributes; inventory: one row per export).
    #[arg(long)]
    pub csv: bool,
}

pub fn run(a: FleetArgs) -> u8 {
    if a.inventory.is_some() {
        inventory(a)
    } else {
        synthetic(a)
    }
}

fn synthetic(a: FleetArgs) -> u8 {
    let mix = match &a.mix {
        Some(f) => match Mix::load(f) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("certmig: {e}");
                return EXIT_BAD_INPUT;
            }
        },
        None => Mix::default(),
    };
    let plan = match (&a.plan, a.remediation) {
        (Some(f), _) => match Plan::load(f) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("certmig: {e}");
                return EXIT_BAD_INPUT;
            }
        },
        (None, Some(r)) => Plan::global(r),
        (None, None) => Plan::default(),
    };
    let machines = a.machines.unwrap_or(0);
    let population = Population {
        machines,
        seed: a.seed,
        mix,
        plan,
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(machines);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} replaying [{bar:30}] {human_pos}/{human_len} machines, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let start = Instant::now();
    let tally = population.run(&|n| bar.inc(n));
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    eprintln!(
        "certmig: replayed {} machines in {:.2} s ({:.0} machines/s, {} threads)",
        group_digits(machines),
        elapsed.as_secs_f64(),
        machines as f64 / elapsed.as_secs_f64().max(1e-9),
        rayon::current_num_threads()
    );
    let report = FleetReport::new(machines, a.seed, population.mix, population.plan, &tally);
    if let Some(f) = &a.html {
        if let Err(e) = certmig::fix::write::write_file(f, report.html().as_bytes()) {
            eprintln!("certmig: {}: {e}", f.display());
            return EXIT_FAILURE;
        }
    }
    if a.json {
        return print_json(&report);
    }
    if a.csv {
        print!("{}", report.csv());
        return EXIT_OK;
    }
    print_fleet(&report);
    EXIT_OK
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t
}

fn right(t: &mut Table, from: usize) {
    let n = t.column_count();
    for i in from..n {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn segments(title: &str, rows: &[SegmentRow]) {
    let mut t = table();
    let mut header: Vec<String> = rows
        .first()
        .map(|r| r.key.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    let keys = header.len();
    header.extend(
        [
            "machines",
            "success",
            "capture-failed",
            "restore-failed",
            "step-failed",
            "identity-lost",
            "latent",
            "failing",
        ]
        .map(String::from),
    );
    t.set_header(header);
    for r in rows {
        let c = &r.counts;
        let mut cells: Vec<String> = r.key.iter().map(|(_, v)| v.clone()).collect();
        cells.extend(c.columns().map(group_digits));
        cells.push(percent(c.failed(), c.machines));
        t.add_row(cells);
    }
    right(&mut t, keys);
    println!("\n{title}\n{t}");
}

fn print_fleet(r: &FleetReport) {
    let t = &r.totals;
    println!(
        "{} machines, seed {}, plan: {}",
        group_digits(r.machines),
        r.seed,
        r.plan
    );
    let mut tt = table();
    tt.set_header(["outcome", "machines", "share"]);
    for (name, n) in [
        ("success", t.success),
        ("capture-failed", t.capture_failed),
        ("restore-failed", t.restore_failed),
        ("step-failed", t.step_failed),
        ("identity lost", t.identity_lost),
        ("success, bad certificates left (latent)", t.latent),
    ] {
        tt.add_row([name.to_owned(), group_digits(n), percent(n, t.machines)]);
    }
    right(&mut tt, 1);
    println!("{tt}");
    let mut c = table();
    c.set_header(["failure cause: outcome", "step", "HRESULT", "machines"]);
    for f in &r.failure_causes {
        c.add_row([
            f.outcome.as_str().to_owned(),
            f.step.clone(),
            format!(
                "{} {}",
                f.hresult.as_deref().unwrap_or(""),
                f.hresult_name.unwrap_or("")
            )
            .trim()
            .to_owned(),
            group_digits(f.machines),
        ]);
    }
    right(&mut c, 3);
    if !r.failure_causes.is_empty() {
        println!("\n{c}");
    }
    segments(
        "By OS pair (source -> target; +974571 on the target: installed before restore)",
        &r.by_os_pair,
    );
    segments("By remediation", &r.by_remediation);
    segments(
        "By client (hotfix installed after its certificates were made)",
        &r.by_client,
    );
    segments("By kind", &r.by_kind);
    segments("By certificate defect", &r.by_defect);
}

fn machine_set(all: bool, list: &Option<PathBuf>) -> Result<MachineSet, String> {
    match list {
        Some(f) => std::fs::read_to_string(f)
            .map(|t| MachineSet::parse_list(&t))
            .map_err(|e| format!("{}: {e}", f.display())),
        None if all => Ok(MachineSet::All),
        None => Ok(MachineSet::None),
    }
}

fn inventory(a: FleetArgs) -> u8 {
    let dir = a.inventory.clone().unwrap_or_default();
    let Some(target) = a.target else {
        eprintln!("certmig: --inventory needs --target win7-sp1|win7-rtm");
        return EXIT_BAD_INPUT;
    };
    let sets = machine_set(a.source_kb974571, &a.source_kb974571_list).and_then(|s| {
        machine_set(a.client_hotfix_977203, &a.client_hotfix_977203_list).map(|c| (s, c))
    });
    let (source_kb974571, client_hotfix_977203) = match sets {
        Ok(x) => x,
        Err(e) => {
            eprintln!("certmig: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let opts = InventoryOptions {
        target,
        target_kb974571: a.target_kb974571,
        source_kb974571,
        client_hotfix_977203,
        site_has_977384: a.site_has_977384,
    };
    let report = match assess_dir(&dir, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("certmig: {}: {e}", dir.display());
            return EXIT_BAD_INPUT;
        }
    };
    let code = if report.unreadable.is_empty() {
        EXIT_OK
    } else {
        EXIT_BAD_INPUT
    };
    if !a.json && !a.csv {
        print_inventory(&report);
        return code;
    }
    // Machine-readable output on stdout; the unreadable exports also on stderr.
    for u in &report.unreadable {
        eprintln!("certmig: {}: {}", u.file, u.error);
    }
    if a.json {
        let c = print_json(&report);
        return if c == EXIT_OK { code } else { c };
    }
    print!("{}", report.csv());
    code
}

fn print_inventory(r: &InventoryReport) {
    let mut t = table();
    t.set_header([
        "machine",
        "certificates",
        "prediction",
        "step",
        "HRESULT",
        "certificates causing it",
        "action",
    ]);
    for m in &r.machines {
        let causes: Vec<String> = m
            .causes
            .iter()
            .map(|c| format!("{} {}", c.thumbprint, c.shape.unwrap_or(c.rule.as_str())))
            .collect();
        t.add_row([
            m.machine.clone(),
            m.certificates.to_string(),
            m.prediction.as_str().to_owned(),
            m.step.unwrap_or("").to_owned(),
            m.hresult.map(|h| h.to_string()).unwrap_or_default(),
            causes.join("\n"),
            m.action.as_str().to_owned(),
        ]);
    }
    println!(
        "target {}{}; sources with KB974571: {}; clients with 977203: {}; site has 977384: {}",
        r.target,
        if r.target_kb974571 {
            " + KB974571 before restore"
        } else {
            ""
        },
        r.assumptions.source_kb974571,
        r.assumptions.client_hotfix_977203,
        if r.assumptions.site_has_977384 {
            "yes"
        } else {
            "no"
        }
    );
    println!("{t}");
    if !r.unreadable.is_empty() {
        let mut u = table();
        u.set_header(["unreadable export", "line", "offset", "error"]);
        for x in &r.unreadable {
            u.add_row([
                x.file.clone(),
                x.line.map(|l| l.to_string()).unwrap_or_default(),
                x.offset.map(|o| o.to_string()).unwrap_or_default(),
                x.error.clone(),
            ]);
        }
        println!("{u}");
    }
    let s = &r.summary;
    println!(
        "{} export(s): {} readable, {} unreadable; {} will fail ({} at capture, {} at restore), {} latent; {} bad certificate(s)",
        s.exports,
        s.readable,
        s.unreadable,
        s.will_fail,
        s.by_prediction.get("capture-failed").copied().unwrap_or(0),
        s.by_prediction.get("restore-failed").copied().unwrap_or(0),
        s.by_prediction.get("success-latent").copied().unwrap_or(0),
        s.bad_certificates
    );
    let actions: Vec<String> = s
        .by_action
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(a, n)| format!("{a}: {n}"))
        .collect();
    println!("actions: {}", actions.join(", "));
    if !r.ignored.is_empty() {
        println!(
            "not read (directories, hidden files): {}",
            r.ignored.join(", ")
        );
    }
}
