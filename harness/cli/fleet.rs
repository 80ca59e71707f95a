//! `certmig fleet`: a synthetic fleet replayed through the simulator, or a
//! directory of real `reg export`s judged machine by machine.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::exit::CliError;
use super::{print_json, EXIT_BAD_INPUT, EXIT_OK};
use certmig_report as report;
use certmig_report::text::group_digits;
use certmig_sim::fleet::inventory::{assess_dir, assess_dir_with, InventoryOptions, MachineSet};
use certmig_sim::fleet::{FleetReport, Mix, Plan, Population};
use certmig_sim::scenario::Remediation;
use certmig_sim::world::{InSequenceReading, Os, SiteVersion};

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
  certmig fleet --machines 10000 --remediation ccmcertfix-before-ts --csv > cells.csv
  certmig fleet --inventory exports/ --target win7-sp1 --site-has-977384 --csv > readiness.csv")]
pub struct FleetArgs {
    /// Synthetic fleet: number of machines to replay.
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "inventory",
        conflicts_with = "inventory",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub machines: Option<u64>,
    /// Synthetic fleet: seed; the same seed, mix and plan always give the same report.
    #[arg(long, default_value_t = 1, conflicts_with = "inventory")]
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
    /// Also write a self-contained HTML report to FILE (synthetic: charts; inventory: the
    /// machines that need action and what to do), and print no table.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Real inventory: a directory of `reg export`s of the SMS store, one per machine.
    #[arg(long, value_name = "DIR")]
    pub inventory: Option<PathBuf>,
    /// Real inventory: the OS the task sequence applies.
    #[arg(long, value_parser = super::choice::<Os>(), requires = "inventory", conflicts_with = "machines")]
    pub target: Option<Os>,
    /// Real inventory: KB974571 is installed on the target before Restore User State.
    #[arg(long, requires = "inventory", conflicts_with = "machines")]
    pub target_kb974571: bool,
    /// Real inventory: every source has KB974571 (capture is judged under ms09-056).
    #[arg(
        long,
        requires = "inventory",
        conflicts_with = "machines",
        conflicts_with = "source_kb974571_list"
    )]
    pub source_kb974571: bool,
    /// Real inventory: the sources that have KB974571, one machine name per line.
    #[arg(
        long,
        value_name = "FILE",
        requires = "inventory",
        conflicts_with = "machines"
    )]
    pub source_kb974571_list: Option<PathBuf>,
    /// Real inventory: every client already has the 977203 client hotfix.
    #[arg(
        long,
        requires = "inventory",
        conflicts_with = "machines",
        conflicts_with = "client_hotfix_977203_list"
    )]
    pub client_hotfix_977203: bool,
    /// Real inventory: the clients that have the 977203 client hotfix, one machine name per line.
    #[arg(
        long,
        value_name = "FILE",
        requires = "inventory",
        conflicts_with = "machines"
    )]
    pub client_hotfix_977203_list: Option<PathBuf>,
    /// Real inventory: the site server has 977384 (so CCMCertFix must be extracted with /x).
    #[arg(long, requires = "inventory", conflicts_with = "machines")]
    pub site_has_977384: bool,
    /// Real inventory: the site's service pack (an SP1 site has USMT 3.0.1, which does not restore to Windows 7).
    #[arg(long, value_parser = super::choice::<SiteVersion>(), requires = "inventory", conflicts_with = "machines", default_value_t)]
    pub site_version: SiteVersion,
    /// Synthetic fleet: where CCMCertFix runs inside the task sequence, follow KB2028442 (it does
    /// not help) or KB977203 (it repairs); overrides the plan's `in_sequence_ccmcertfix`.
    #[arg(long, value_name = "SOURCE", value_parser = super::choice::<InSequenceReading>(), conflicts_with = "inventory")]
    pub in_sequence_ccmcertfix: Option<InSequenceReading>,

    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (synthetic: one row per combination of attributes; inventory: one row per export).
    #[arg(long)]
    pub csv: bool,
}

pub fn run(a: FleetArgs) -> Result<u8, CliError> {
    if a.inventory.is_some() {
        inventory(a)
    } else {
        synthetic(a)
    }
}

fn synthetic(a: FleetArgs) -> Result<u8, CliError> {
    if let Some(f) = &a.html {
        let inputs: Vec<&std::path::Path> = [&a.mix, &a.plan]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .collect();
        if let Err(e) = certmig_fix::platform::check_not_an_input(f, &inputs) {
            return Err(CliError::bad_input(format!("--html: {e}")));
        }
    }
    let mix = match &a.mix {
        Some(f) => match Mix::load(f) {
            Ok(m) => m,
            Err(e) => {
                return Err(CliError::bad_input(e));
            }
        },
        None => Mix::default(),
    };
    let mut plan = match (&a.plan, a.remediation) {
        (Some(f), _) => match Plan::load(f) {
            Ok(p) => p,
            Err(e) => {
                return Err(CliError::bad_input(e));
            }
        },
        (None, Some(r)) => Plan::global(r),
        (None, None) => Plan::default(),
    };
    if let Some(r) = a.in_sequence_ccmcertfix {
        plan.in_sequence_ccmcertfix = r;
    }
    let machines = a.machines.unwrap_or(0);
    let population = Population {
        machines,
        seed: a.seed,
        mix,
        plan,
    };
    let bar = if std::io::stderr().is_terminal() && !crate::quiet() {
        let b = indicatif::ProgressBar::new(machines);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} replaying [{bar:30}] {msg} machines, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let start = Instant::now();
    // Counts as every other output writes them: "1 000 000".
    let total = group_digits(machines);
    let tally = population.run(&|n| {
        bar.inc(n);
        bar.set_message(format!("{}/{total}", group_digits(bar.position())));
    });
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    info!(
        "replayed {} machines in {:.2} s ({:.0} machines/s, {} threads)",
        group_digits(machines),
        elapsed.as_secs_f64(),
        machines as f64 / elapsed.as_secs_f64().max(1e-9),
        rayon::current_num_threads()
    );
    let fleet = FleetReport::new(machines, a.seed, population.mix, population.plan, &tally);
    if let Some(f) = &a.html {
        if let Err(e) = certmig_fix::write::write_file(f, report::fleet::html(&fleet).as_bytes()) {
            return Err(CliError::failure(format!("{}: {e}", f.display())));
        }
        info!("wrote the HTML report to {}", f.display());
    }
    if a.json {
        return Ok(print_json(&fleet));
    }
    if a.csv {
        out!("{}", report::fleet::csv(&fleet));
        return Ok(EXIT_OK);
    }
    // The page was asked for: no table unless asked too.
    if a.html.is_none() {
        out!("{}", report::text::fit(&report::fleet::human(&fleet)));
    }
    Ok(EXIT_OK)
}

fn machine_set(all: bool, list: &Option<PathBuf>) -> Result<MachineSet, String> {
    match list {
        Some(f) => certmig_fix::platform::read_text(f, certmig_fix::platform::MAX_LIST_BYTES)
            .map(|t| MachineSet::parse_list(&t))
            .map_err(|e| format!("{}: {e}", f.display())),
        None if all => Ok(MachineSet::All),
        None => Ok(MachineSet::None),
    }
}

fn inventory(a: FleetArgs) -> Result<u8, CliError> {
    let dir = a.inventory.clone().unwrap_or_default();
    let Some(target) = a.target else {
        return Err(CliError::bad_input(
            "--inventory needs --target win7-sp1|win7-rtm",
        ));
    };
    let sets = machine_set(a.source_kb974571, &a.source_kb974571_list).and_then(|s| {
        machine_set(a.client_hotfix_977203, &a.client_hotfix_977203_list).map(|c| (s, c))
    });
    let (source_kb974571, client_hotfix_977203) = match sets {
        Ok(x) => x,
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let opts = InventoryOptions {
        target,
        target_kb974571: a.target_kb974571,
        source_kb974571,
        client_hotfix_977203,
        site_has_977384: a.site_has_977384,
        site_version: a.site_version,
    };
    if let Some(f) = &a.html {
        if let Err(e) = certmig_fix::platform::check_not_an_input(f, &[dir.as_path()]) {
            return Err(CliError::bad_input(format!("--html: {e}")));
        }
    }
    // --json and --html hold every machine in one document; the table and
    // the CSV stream, so memory does not grow with the number of exports.
    let result = if a.json || a.html.is_some() {
        assess_dir(&dir, &opts).map(|r| (r, None))
    } else if a.csv {
        let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
        let mut rows = report::inventory::CsvStream::new(out);
        assess_dir_with(&dir, &opts, false, |x| rows.row(x)).and_then(|r| {
            rows.finish()
                .and_then(|mut w| w.flush())
                .map(|()| (r, None))
        })
    } else {
        let mut table = report::inventory::HumanTable::default();
        assess_dir_with(&dir, &opts, false, |x| {
            if let Ok(m) = x {
                table.add(m);
            }
            Ok(())
        })
        .map(|r| (r, Some(table)))
    };
    let (readiness, table) = match result {
        Ok(r) => r,
        // The CSV's reader went away (Windows; Unix ends by SIGPIPE).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => crate::output_failed(&e),
        Err(e) => {
            return Err(CliError::bad_input(format!("{}: {e}", dir.display())));
        }
    };
    let code = if readiness.unreadable.is_empty() {
        EXIT_OK
    } else {
        EXIT_BAD_INPUT
    };
    if let Some(f) = &a.html {
        if let Err(e) =
            certmig_fix::write::write_file(f, report::inventory::html(&readiness).as_bytes())
        {
            return Err(CliError::failure(format!("{}: {e}", f.display())));
        }
        info!(
            "wrote the HTML report to {} ({} export(s))",
            f.display(),
            report::text::group_digits(readiness.summary.exports as u64)
        );
    }
    // The unreadable exports on stderr too, whatever stdout holds: exit 2
    // always says why there.
    for u in &readiness.unreadable {
        eprintln!("certmig: {}: {}", u.file, u.error);
    }
    if let Some(table) = table {
        out!("{}", report::text::fit(&table.render(&readiness)));
        return Ok(code);
    }
    if a.json {
        let c = print_json(&readiness);
        return Ok(if c == EXIT_OK { code } else { c });
    }
    // With --html the exports were read whole: the CSV comes from them.
    if a.csv && a.html.is_some() {
        out!("{}", report::inventory::csv(&readiness));
    }
    Ok(code)
}
