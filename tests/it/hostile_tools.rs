//! `certmig validate` against hostile fix tools (small shell scripts), on
//! Unix: endless output, a hang, a crash, children that outlive the tool
//! (in its process group, in a session of their own, a quiet daemon), a tool
//! that deletes or rewrites its input, tools that write outside their case
//! directory and swallow the error, and tools whose output is a trap (a link
//! to `/dev/zero`, a huge sparse file, a FIFO, a directory that links back
//! to itself, a planted link). Each ends within its `--timeout` plus a few
//! seconds, with certmig's peak RSS under 256 MB, a failed verdict that says
//! why, no file written outside, and no process left.
//!
//! On Linux the tests that need it check that the report says the runs were
//! contained (namespaces); without user namespaces they fail, saying so: the
//! guarantee they test does not hold there. The Windows containment (a Job
//! Object) has its own tests in `tests/it/containment.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::validate_report::{
    assert_evidence, assert_flood_cut, assert_hazard, evidence, hazards, left_running,
    outside_writes, writes_contained,
};

/// What one `certmig validate --json` run gave.
struct Outcome {
    code: i32,
    report: serde_json::Value,
    elapsed: Duration,
    /// Peak resident set of certmig (and what it waited for), in KiB.
    max_rss_kib: i64,
}

struct Caller {
    dir: tempfile::TempDir,
}

impl Caller {
    fn new() -> Caller {
        Caller {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Runs `certmig validate --json --no-matrix` on `script` from this
    /// directory, with `extra` (`--cases 1 --timeout 2` unless given).
    fn validate(&self, script: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
        let o = self.run(script, extra);
        (o.code, o.report)
    }

    fn run(&self, script: &Path, extra: &[&str]) -> Outcome {
        let mut args: Vec<String> = ["validate", "--json", "--no-matrix"]
            .map(String::from)
            .to_vec();
        for (flag, default) in [("--cases", "1"), ("--timeout", "2")] {
            if !extra.contains(&flag) {
                args.extend([flag.to_owned(), default.to_owned()]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push("--fixer".into());
        args.push(format!("{} {{in}} {{out}}", script.display()));
        run_certmig(self.dir.path(), &args)
    }
}

/// Runs certmig in `cwd`, measuring its time and peak RSS (waitpid reaps it:
/// the `Child` is never waited on). The peak is taken by
/// `certmig-peak-rss` (harness/testkit), a small parent: Linux counts the
/// memory of the process that starts a program into the program's peak,
/// and this test process also runs the other tests of the binary.
#[allow(clippy::zombie_processes)]
fn run_certmig(cwd: &Path, args: &[String]) -> Outcome {
    let certmig = support::certmig_exe();
    let peak = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let mut child = Command::new(certmig.with_file_name("certmig-peak-rss"))
        .arg(peak.path())
        .arg(&certmig)
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        stderr.read_to_end(&mut v).unwrap();
        v
    });
    let mut status = 0;
    // SAFETY: waitpid on our own child, into a local.
    let pid = unsafe { libc::waitpid(child.id() as i32, &mut status, 0) };
    assert_eq!(pid, child.id() as i32);
    let elapsed = start.elapsed();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let report = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        )
    });
    let max_rss_kib = std::fs::read_to_string(peak.path())
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(i64::MAX);
    Outcome {
        code: libc::WEXITSTATUS(status),
        report,
        elapsed,
        max_rss_kib,
    }
}

/// `sleep N` with N unique to this test process: another run of these
/// tests on the same machine (a CI job beside a developer's `cargo test`)
/// starts its own sleeps, which [`running`] must not see as ours.
fn sleep_for(base: u64) -> String {
    format!("sleep {base}{}", std::process::id())
}

/// True while a process whose command line holds `marker` runs (a marker
/// unique to this process: [`sleep_for`]).
fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(marker)
            })
            .unwrap_or(false)
    })
}

/// The home directory of the user running the tests, from the password
/// database (not `$HOME`).
fn passwd_home() -> PathBuf {
    // SAFETY: getpwuid returns a pointer into static storage, read at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null());
        let dir = std::ffi::CStr::from_ptr((*pw).pw_dir);
        PathBuf::from(dir.to_str().unwrap())
    }
}

fn assert_contained(r: &serde_json::Value) {
    assert!(
        writes_contained(r),
        "this machine does not contain the tool's writes (no user namespaces?): {}",
        r["containment"]
    );
    assert_eq!(r["containment"]["processes_end_with_run"], true);
}

#[test]
fn endless_output_is_cut_and_the_tool_killed() {
    let c = Caller::new();
    let s = c.script(
        "flood.sh",
        &format!(
            "cp \"$1\" \"$2\"\nexec yes certmig-flood-output-{}",
            std::process::id()
        ),
    );
    let (code, r) = c.validate(&s, &[]);
    assert_eq!(code, 1);
    assert_flood_cut(&r);
    assert!(!running(&format!(
        "yes certmig-flood-output-{}",
        std::process::id()
    )));
}

#[test]
fn a_hang_a_crash_and_a_child_that_outlives_the_tool() {
    let c = Caller::new();
    let hang = c.script("hang.sh", &sleep_for(987654));
    let (code, r) = c.validate(&hang, &[]);
    assert_eq!(code, 1);
    assert!(evidence(&r, "V10")
        .iter()
        .any(|e| e.contains("timed out after")));
    assert!(!running(&sleep_for(987654)), "the hanging tool was killed");

    let crash = c.script("crash.sh", "kill -SEGV $$");
    let (code, r) = c.validate(&crash, &[]);
    assert_eq!(code, 1);
    assert_evidence(&r, "V10", "killed by signal 11");

    let orphan = c.script(
        "orphan.sh",
        &format!("{} &\ncp \"$1\" \"$2\"", sleep_for(876543)),
    );
    let (code, r) = c.validate(&orphan, &[]);
    assert_eq!(code, 1, "a process left running is a hazard");
    assert!(
        !running(&sleep_for(876543)),
        "the child was killed with the run"
    );
    if writes_contained(&r) {
        assert!(left_running(&r, &sleep_for(876543)), "{:?}", hazards(&r));
    }
}

/// A quiet daemon: its own session, every descriptor closed, writing
/// seconds after the tool exited. It is named, killed, and its file never
/// appears.
#[cfg(target_os = "linux")]
#[test]
fn a_detached_daemon_is_named_killed_and_writes_nothing() {
    let c = Caller::new();
    let target = std::env::temp_dir().join(format!("certmig-daemon-{}", std::process::id()));
    let s = c.script(
        "daemon.sh",
        &format!(
            "cp \"$1\" \"$2\"\n(setsid sh -c 'sleep 2; echo late > {t}; {s}' \
             </dev/null >/dev/null 2>&1 &)\nexit 0",
            t = target.display(),
            s = sleep_for(765432)
        ),
    );
    let o = c.run(&s, &[]);
    assert_contained(&o.report);
    assert_eq!(o.code, 1);
    assert!(
        left_running(&o.report, "sleep 2"),
        "{:?}",
        hazards(&o.report)
    );
    assert!(o.elapsed < Duration::from_secs(2 + 5), "{:?}", o.elapsed);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!target.exists(), "the daemon wrote {}", target.display());
    assert!(!running(&sleep_for(765432)), "the daemon was killed");
}

#[test]
fn a_tool_that_deletes_or_rewrites_its_input_is_reported() {
    let c = Caller::new();
    let deletes = c.script("deletes.sh", "cp \"$1\" \"$2\"\nrm -f \"$1\"");
    let (code, r) = c.validate(&deletes, &[]);
    assert_eq!(code, 1);
    assert_hazard(&r, "removed or broke its input");

    let rewrites = c.script("rewrites.sh", "cp \"$1\" \"$2\"\nprintf x >> \"$1\"");
    let (code, r) = c.validate(&rewrites, &[]);
    assert_eq!(code, 1);
    assert_hazard(&r, "changed its input");
}

/// Must-show 2: a tool that writes outside its case, swallowing the error
/// and exiting 0 after a correct repair, is rejected with a hazard naming
/// the path, and the file never appears; for every place a tool could
/// reach on a real machine.
#[cfg(target_os = "linux")]
#[test]
fn writes_outside_the_case_are_prevented_and_named() {
    let c = Caller::new();
    let tag = format!("certmig-outside-{}", std::process::id());
    let above = format!("$(dirname \"$(dirname \"$1\")\")/{tag}");
    let places: Vec<(&str, String, Option<PathBuf>)> = vec![
        (
            "home",
            passwd_home().join(&tag).display().to_string(),
            Some(passwd_home().join(&tag)),
        ),
        (
            "tmp",
            format!("/tmp/{tag}"),
            Some(PathBuf::from(format!("/tmp/{tag}"))),
        ),
        (
            "var-tmp",
            format!("/var/tmp/{tag}"),
            Some(PathBuf::from(format!("/var/tmp/{tag}"))),
        ),
        ("above-case", above, None),
        (
            "cwd",
            c.dir.path().join(&tag).display().to_string(),
            Some(c.dir.path().join(&tag)),
        ),
    ];
    let fixer = support::certmig_exe();
    for (name, path, real) in places {
        let s = c.script(
            &format!("{name}.sh"),
            &format!(
                "echo pwned > \"{path}\" 2>/dev/null || true\nexec {} fix \"$1\" -o \"$2\"",
                fixer.display()
            ),
        );
        let (code, r) = c.validate(&s, &[]);
        assert_contained(&r);
        assert_eq!(code, 1, "{name}: {r}");
        let writes = outside_writes(&r);
        assert!(
            writes
                .iter()
                .any(|w| w.contains("wrote ") && w.contains(&tag)),
            "{name}: {writes:?}"
        );
        // Only hazards fail it: the repair itself is correct.
        assert!(
            r["cases"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["violations"].as_array().unwrap().is_empty()),
            "{name}: {r}"
        );
        if let Some(real) = real {
            assert!(!real.exists(), "{name}: {} was written", real.display());
        }
    }
    // The directory above the case is certmig's run directory, gone now;
    // the temporary directory holds nothing of the tool's either.
    assert!(!std::env::temp_dir().join(&tag).exists());
}

/// Must-show 1: another program writing in `$HOME`, the working directory
/// and `/tmp` for the whole validation is never blamed on the tool.
#[test]
fn other_programs_writing_next_door_are_not_blamed_on_the_tool() {
    let c = Caller::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tag = format!("certmig-neighbour-{}", std::process::id());
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()));
    let spots = vec![
        home.join(&tag),
        c.dir.path().join(&tag),
        std::env::temp_dir().join(&tag),
        PathBuf::from("/tmp").join(&tag),
    ];
    let writer = {
        let (stop, spots) = (stop.clone(), spots.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for s in &spots {
                    let _ = std::fs::write(s, n.to_le_bytes());
                    let _ = std::fs::write(s.with_extension(format!("{}", n % 7)), b"x");
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let fixer = c.script(
        "reference.sh",
        &format!(
            "exec {} fix \"$1\" -o \"$2\"",
            support::certmig_exe().display()
        ),
    );
    let o = c.run(&fixer, &["--cases", "4"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    for s in &spots {
        let _ = std::fs::remove_file(s);
        for k in 0..7 {
            let _ = std::fs::remove_file(s.with_extension(format!("{k}")));
        }
    }
    assert!(hazards(&o.report).is_empty(), "{:?}", hazards(&o.report));
    assert_eq!(o.code, 0, "{}", o.report);
}

/// Must-show 3: output that is a trap ends in a failed verdict with its
/// reason, within the timeout plus a few seconds, under 256 MB, with no
/// process left.
#[test]
fn hostile_output_is_refused_not_read() {
    let c = Caller::new();
    let victim = c.dir.path().join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap();
    let traps: Vec<(&str, String, &[&str], &str)> = vec![
        ("dev-zero", "ln -s /dev/zero \"$2\"".into(), &[], "a symbolic link"),
        (
            "sparse",
            "truncate -s 4G \"$2\"".into(),
            &["--max-output", "1"],
            "more than --max-output|grew past the limit",
        ),
        ("fifo", "mkfifo \"$2\"".into(), &[], "a FIFO"),
        (
            "self-link",
            "mkdir \"$2\" && ln -s . \"$2/loop.blob\" && ln -s \"$2\" \"$2/back.blob\"".into(),
            &["--format", "blob-dir"],
            "a symbolic link",
        ),
        (
            "planted",
            format!(
                "cp \"$1\" \"$2\"\nln -s '{}' \"$(dirname \"$1\")/in.sst.planted\" \
                 ; for d in \"$(dirname \"$(dirname \"$1\")\")\"/*; do ln -sf '{}' \"$d/in.reg\" 2>/dev/null; done; true",
                victim.display(),
                victim.display()
            ),
            &[],
            "",
        ),
    ];
    for (name, body, extra, reason) in traps {
        let marker = format!("certmig-trap-{name}-{}", std::process::id());
        let s = c.script(
            &format!("{name}.sh"),
            &format!("{body}\nsh -c 'sleep 300; : {marker}' </dev/null >/dev/null 2>&1 &\nexit 0"),
        );
        let mut args = vec!["--timeout", "5"];
        args.extend_from_slice(extra);
        let o = c.run(&s, &args);
        assert_eq!(o.code, 1, "{name}: {}", o.report);
        assert!(
            o.elapsed < Duration::from_secs(5 + 5),
            "{name}: {:?}",
            o.elapsed
        );
        assert!(o.max_rss_kib < 256 * 1024, "{name}: {} KiB", o.max_rss_kib);
        if !reason.is_empty() {
            let all: Vec<String> = ["V7", "V10", "V8"]
                .iter()
                .flat_map(|i| evidence(&o.report, i))
                .collect();
            assert!(
                all.iter().any(|e| reason.split('|').any(|r| e.contains(r))),
                "{name}: {all:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(!running(&marker), "{name}: a process was left");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me", "{name}");
    }
}

/// A tool that makes a directory of its case unreadable and unwritable
/// does not leave case directories (with copies of the input) behind.
#[test]
fn case_directories_are_removed_whatever_the_tool_did_to_them() {
    let c = Caller::new();
    let tmp = c.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let s = c.script(
        "lock.sh",
        "cp \"$1\" \"$2\"\nmkdir -p \"$(dirname \"$1\")/locked/inner\" && cp \"$1\" \"$(dirname \"$1\")/locked/inner/copy\"\nchmod 000 \"$(dirname \"$1\")/locked/inner\" \"$(dirname \"$1\")/locked\"",
    );
    let out = Command::new(support::certmig_exe())
        .current_dir(c.dir.path())
        .env("TMPDIR", &tmp)
        .args([
            "validate",
            "--json",
            "--no-matrix",
            "--cases",
            "2",
            "--fixer",
        ])
        .arg(format!("{} {{in}} {{out}}", s.display()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_summary_counts_failed_cases_per_invariant() {
    let c = Caller::new();
    // Truncates where strip is promised: V4 fails on some cases, not all.
    let s = c.script(
        "truncates.sh",
        &format!(
            "exec {} fix \"$1\" -o \"$2\"",
            support::certmig_exe().display()
        ),
    );
    let out = Command::new(support::certmig_exe())
        .current_dir(c.dir.path())
        .args(["validate", "--no-matrix", "--policy", "strip", "--fixer"])
        .arg(format!("{} {{in}} {{out}}", s.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("V4 failed on "))
        .unwrap_or_else(|| panic!("{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let (k, n): (usize, usize) = (words[3].parse().unwrap(), words[5].parse().unwrap());
    assert!(0 < k && k < n && n == 23, "{line}");
    assert!(!text.contains("invariants broken"), "{text}");
}

/// The same guarantee for a user without privileges: when the tests run as
/// root, certmig is also run as `nobody` (through `setpriv`), where the
/// sandbox's set-up and certmig's reading of it take other paths (an
/// unprivileged user namespace; no right to inspect a non-dumpable init).
/// Run as another user, the rest of this file already covers that case.
#[cfg(target_os = "linux")]
#[test]
fn an_unprivileged_user_gets_the_same_containment() {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return; // every other test here already runs unprivileged
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    let open = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(dir.path(), open).unwrap();
    let exe = dir.path().join("certmig");
    std::fs::copy(support::certmig_exe(), &exe).unwrap();
    let tag = format!("certmig-nobody-{}", std::process::id());
    let tool = dir.path().join("tool.sh");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\necho x > /tmp/{tag} 2>/dev/null\n(setsid {} &)\nexec {} fix \"$1\" -o \"$2\"\n",
            sleep_for(654321),
            exe.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .args([
            "validate",
            "--json",
            "--no-matrix",
            "--cases",
            "1",
            "--fixer",
        ])
        .arg(format!("{} {{in}} {{out}}", tool.display()))
        .output()
        .expect("setpriv (util-linux) runs certmig as nobody");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_contained(&r);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        outside_writes(&r)
            .iter()
            .any(|w| w.ends_with(&format!("wrote /tmp/{tag}"))),
        "{:?}",
        hazards(&r)
    );
    assert!(left_running(&r, &sleep_for(654321)), "{:?}", hazards(&r));
    assert!(!Path::new(&format!("/tmp/{tag}")).exists());
    assert!(!running(&sleep_for(654321)));
}
