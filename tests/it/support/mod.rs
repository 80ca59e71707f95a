//! Shared builders for the integration tests.
#![allow(dead_code)]

pub mod reference;
pub mod validate_report;

use std::path::{Path, PathBuf};

use certmig::format::registry::{RegistryStore, SYSTEM_CERTIFICATES};
use certmig::format::{Defect, Property, PropertyId, SerializedElement, SerializedStore};
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

/// The `certmig` binary Cargo built for these tests.
pub fn certmig_exe() -> PathBuf {
    assert_cmd::cargo::cargo_bin("certmig")
}

/// `certmig`, run from the checkout (where `cargo test` runs the tests), so
/// that relative paths such as `scenarios/` are the shipped files.
pub fn certmig() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("certmig").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// `certmig.exe` beside this test's directory, found from the running test
/// (a Windows path): `Command::cargo_bin` would put the cargo runner
/// (`wine`) in front of it, and there is no `wine` inside Wine.
#[cfg(windows)]
pub fn windows_certmig() -> assert_cmd::Command {
    let mut dir = std::env::current_exe().expect("the test executable");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    assert_cmd::Command::new(dir.join("certmig.exe"))
}

/// `certmig gen ARGS --out DIR`, which must succeed.
pub fn gen(dir: &Path, args: &[&str]) {
    certmig()
        .arg("gen")
        .args(args)
        .arg("--out")
        .arg(dir)
        .assert()
        .success();
}

/// Runs `cmd`, which must succeed (its standard error says why not), and
/// reads its standard output as JSON.
pub fn json_of(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every `--defect` of `certmig gen`.
pub const DEFECTS: [&str; 5] = [
    "clean",
    "doubled-terminator",
    "embedded-nul",
    "only-nuls",
    "mixed",
];

/// Every outcome kind, as the JSON and the HTML reports name it.
pub const OUTCOMES: [&str; 5] = [
    "success",
    "capture-failed",
    "restore-failed",
    "step-failed",
    "unsupported",
];

/// A proptest configuration of `cases` cases whose failures are kept beside
/// the test's module, in `tests/it/<module>.proptest-regressions`, and read
/// back before any new case. (Proptest's default would put them under
/// `tests/proptest-regressions/`, since `tests/it/` has a `main.rs`.)
pub fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// A small DER-looking certificate body: the format layer treats the context
/// as opaque bytes, so these tests need no real certificate.
pub fn fake_der(n: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0x30, 0x82, (len >> 8) as u8, len as u8];
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(n)));
    v
}

/// An SCCM-shaped element: friendly name (11), key provider info (2), cert (32).
pub fn sccm_element(n: u8, defect: Defect) -> SerializedElement<'static> {
    let kpi = certmig::format::KeyProvInfo::sccm_machine_key("SMS_PC0042_Signing", 2).encode();
    SerializedElement::certificate(
        fake_der(n, 200),
        vec![
            Property::new(
                PropertyId::FriendlyName,
                defect.apply("SMS Signing Certificate"),
            ),
            Property::new(PropertyId::KeyProvInfo, kpi),
        ],
    )
}

pub fn sccm_store(count: u8, defect: Defect) -> SerializedStore<'static> {
    SerializedStore::new((0..count).map(|i| sccm_element(i, defect)).collect())
}

/// Three certificates: a doubled terminator, a clean one, an embedded NUL
/// (the store of `tests/it/reg_exports.rs` and `tests/it/reg_pieces.rs`).
pub fn store() -> RegistryStore<'static> {
    RegistryStore::from_elements(
        "SMS",
        vec![
            sccm_element(1, Defect::DoubledTerminator),
            sccm_element(2, Defect::Clean),
            sccm_element(3, Defect::EmbeddedNul),
        ],
    )
}

/// Hex tokens of `bytes`, wrapped `per_line` to a line, continuation lines
/// indented by `indent`, separated by `sep` (`,` or `, `).
pub fn hex_wrapped(bytes: &[u8], per_line: usize, indent: &str, sep: &str, nl: &str) -> String {
    let tokens: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    tokens
        .chunks(per_line)
        .map(|c| c.join(sep))
        .collect::<Vec<_>>()
        .join(&format!("{sep}\\{nl}{indent}"))
}

/// A whole-store export as regedit writes it, with what real exports carry
/// besides the certificates: the `CRLs`/`CTLs` keys (one with a CRL `Blob`),
/// an unrelated key with string, dword, hex(2), hex(7), hex(0) and default
/// values, a key deletion, comments, and three wrappings of `Blob`.
pub fn real_export(s: &RegistryStore<'_>, header: &str, nl: &str) -> String {
    let root = format!("{SYSTEM_CERTIFICATES}\\SMS");
    let mut t = String::new();
    let mut line = |l: &str| {
        t.push_str(l);
        t.push_str(nl);
    };
    line(header);
    line("");
    line("; exported from PC0042 before the migration");
    line(&format!("[{root}]"));
    line("@=\"\"");
    line("");
    line(&format!("[{root}\\Certificates]"));
    line("");
    for (i, c) in s.certificates.iter().enumerate() {
        let blob = c.element.to_bytes();
        line(&format!("[{root}\\Certificates\\{}]", c.thumbprint));
        match i {
            // regedit's own wrapping.
            0 => line(&format!(
                "\"Blob\"=hex:{},\\{nl}  {}",
                hex_wrapped(&blob[..22], 22, "  ", ",", nl),
                hex_wrapped(&blob[22..], 25, "  ", ",", nl)
            )),
            // One long line, upper case.
            1 => line(&format!(
                "\"Blob\"=hex:{}",
                hex_wrapped(&blob, usize::MAX, "", ",", nl).to_uppercase()
            )),
            // Narrow, indented, spaced, `hex(3):`, lower-case name.
            _ => line(&format!(
                "\"blob\"=hex(3):{}",
                hex_wrapped(&blob, 8, "      ", ", ", nl)
            )),
        }
        line("");
    }
    line(&format!("[{root}\\CRLs]"));
    line("");
    line(&format!("[{root}\\CRLs\\{}]", "AB".repeat(20)));
    line(&format!(
        "\"Blob\"=hex:20,00,00,00,01,00,00,00,05,00,00,00,\\{nl}  30,03,02,01,00"
    ));
    line("");
    line(&format!("[{root}\\CTLs]"));
    line("");
    line("; unrelated keys, as in an export of a larger branch");
    line("[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\CCM]");
    line("@=\"default \\\"quoted\\\" value\"");
    line("\"Site Code\"=\"P01\"");
    line("\"Flags\"=dword:0000001f");
    line(&format!(
        "\"Path\"=hex(2):25,00,53,00,79,00,73,00,74,00,65,00,6d,00,52,00,6f,00,6f,00,\\{nl}  74,00,25,00,00,00"
    ));
    line(&format!(
        "\"Servers\"=hex(7):61,00,00,00,62,00,00,00,\\{nl}    00,00"
    ));
    line("\"Nothing\"=hex(0):");
    line("\"Empty\"=hex:");
    line("\"Blob\"=hex:de,ad,be,ef");
    line("");
    line("[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Old]");
    line("");
    t
}

pub fn utf16(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

pub fn regedit5(s: &RegistryStore<'_>) -> Vec<u8> {
    utf16(&real_export(
        s,
        "Windows Registry Editor Version 5.00",
        "\r\n",
    ))
}

pub fn regedit4(s: &RegistryStore<'_>) -> Vec<u8> {
    real_export(s, "REGEDIT4", "\n").into_bytes()
}

/// What [`run_measured`] saw of one run of a command.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub struct Measured {
    /// The exit code (`None`: killed by a signal, or by the timeout).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The peak resident memory of the command, in KiB: `ru_maxrss` as
    /// `certmig-peak-rss` (harness/testkit), its small parent, sees it.
    pub max_rss_kib: u64,
    pub elapsed: std::time::Duration,
    pub timed_out: bool,
}

/// At most this much of a command's standard output is kept by
/// [`run_measured`] (the rest is read and dropped).
#[cfg(target_os = "linux")]
const KEPT_OUTPUT: usize = 1 << 20;

/// Runs certmig with `args` through `certmig-peak-rss` (killed, with its
/// process group, after `timeout`), collects its output (the first MiB of
/// each stream) and its own peak memory. `uid`: run as this user and
/// group (as root).
#[cfg(target_os = "linux")]
pub fn run_measured(
    args: &[&std::ffi::OsStr],
    uid: Option<u32>,
    timeout: std::time::Duration,
) -> Measured {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let certmig = certmig_exe();
    let peak = certmig.with_file_name("certmig-peak-rss");
    let report = tempfile::NamedTempFile::new().unwrap();
    // Written by the command's user (another one, with `uid`).
    std::fs::set_permissions(
        report.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(&peak);
    cmd.arg(report.path()).arg(&certmig).args(args);
    if let Some(id) = uid {
        cmd.uid(id).gid(id);
    }
    let start = std::time::Instant::now();
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo test builds it)", peak.display()));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let (mut kept, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = KEPT_OUTPUT.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
            }
            String::from_utf8_lossy(&kept).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout && !timed_out {
            timed_out = true;
            // SAFETY: kill of the process group our child leads.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let max_rss_kib = std::fs::read_to_string(report.path())
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(u64::MAX);
    Measured {
        code: if timed_out { None } else { status.code() },
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        max_rss_kib,
        elapsed: start.elapsed(),
        timed_out,
    }
}

/// Makes a FIFO at `path` (mode 0644).
#[cfg(unix)]
pub fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    let made = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(
        made,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// What [`junit_structure`] found in a JUnit report.
pub struct JUnit {
    pub testcases: usize,
    pub failures: usize,
    /// The names of the failing testcases, in order.
    pub failing: Vec<String>,
    pub skipped: usize,
}

/// Parses JUnit XML with a real XML parser and checks the structure of the
/// JUnit schema: testsuites > testsuite(name, tests, failures, errors) >
/// testcase(name, classname) > failure(message, type) or skipped.
pub fn junit_structure(xml: &str) -> JUnit {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let (mut testcases, mut failures, mut failing, mut skipped) = (0, 0, Vec::new(), 0);
    let mut declared = (None, None);
    let mut current_case = String::new();
    loop {
        let ev = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &ev {
            quick_xml::events::Event::Start(e) => (Some(e.clone()), false),
            quick_xml::events::Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let attrs: std::collections::BTreeMap<String, String> = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        a.unescape_value().unwrap().into_owned(),
                    )
                })
                .collect();
            let parent = stack.last().map(String::as_str);
            match name.as_str() {
                "testsuites" => assert_eq!(parent, None),
                "testsuite" => {
                    assert_eq!(parent, Some("testsuites"));
                    for k in ["name", "tests", "failures", "errors"] {
                        assert!(attrs.contains_key(k), "testsuite lacks {k}");
                    }
                    declared = (
                        attrs["tests"].parse::<usize>().ok(),
                        attrs["failures"].parse::<usize>().ok(),
                    );
                }
                "testcase" => {
                    assert_eq!(parent, Some("testsuite"));
                    assert!(attrs.contains_key("name") && attrs.contains_key("classname"));
                    testcases += 1;
                    current_case = attrs["name"].clone();
                }
                "failure" => {
                    assert_eq!(parent, Some("testcase"));
                    assert!(attrs.contains_key("message") && attrs.contains_key("type"));
                    failures += 1;
                    failing.push(current_case.clone());
                }
                "skipped" => {
                    assert_eq!(parent, Some("testcase"));
                    skipped += 1;
                }
                "system-out" | "system-err" => {
                    assert!(matches!(parent, Some("testcase" | "testsuite")))
                }
                other => panic!("unexpected element <{other}>"),
            }
            if !empty {
                stack.push(name);
            }
        }
        match ev {
            quick_xml::events::Event::End(_) => {
                stack.pop();
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty());
    assert_eq!(
        declared,
        (Some(testcases), Some(failures)),
        "the suite's counts match its testcases"
    );
    JUnit {
        testcases,
        failures,
        failing,
        skipped,
    }
}
