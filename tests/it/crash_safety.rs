//! Crash safety of `certmig fix` through the real binary: killed with SIGKILL
//! at many points while it repairs a large store in place, the file is always
//! either the original or the complete repaired version; the temporary file
//! a killed run leaves is removed (and reported) by the next run; and a second
//! run on a file that is being repaired fails clearly instead of interleaving.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

/// A bulk store of `n` certificates, half of them with a doubled terminator.
fn big_store(dir: &Path, n: usize) -> PathBuf {
    let status = Command::new(support::certmig_exe())
        .args([
            "gen",
            "--machines",
            "1",
            "--bulk",
            "--format",
            "sst",
            "--defect",
            "mixed",
            "--certs-per-machine",
        ])
        .arg(n.to_string())
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("PC0001.sst")
}

fn temps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".certmig-")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn sigkill_at_any_point_leaves_the_original_or_the_complete_repair() {
    let work = tempfile::tempdir().unwrap();
    let gen_dir = work.path().join("gen");
    let original_path = big_store(&gen_dir, 40_000);
    let original = std::fs::read(&original_path).unwrap();

    // The expected repair, and how long a whole run takes here.
    let expected_path = work.path().join("expected.sst");
    let start = Instant::now();
    let status = Command::new(support::certmig_exe())
        .arg("fix")
        .arg(&original_path)
        .arg("-o")
        .arg(&expected_path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let full_run = start.elapsed();
    assert!(status.success());
    let repaired = std::fs::read(&expected_path).unwrap();
    assert_ne!(original, repaired);

    let dir = work.path().join("victim");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("SMS.sst");
    let points = 24u32;
    let (mut saw_original, mut saw_repaired, mut stale_cleaned) = (0, 0, 0);
    for i in 0..points {
        std::fs::write(&file, &original).unwrap();
        let _ = std::fs::remove_file(dir.join("SMS.sst.bak"));
        // Kill points spread from the start to well past the end of a run.
        let delay = full_run.mul_f64(1.5 * f64::from(i) / f64::from(points - 1));
        let mut child = Command::new(support::certmig_exe())
            .arg("fix")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let now = std::fs::read(&file).unwrap();
        if now == original {
            saw_original += 1;
        } else if now == repaired {
            saw_repaired += 1;
        } else {
            panic!("kill point {i} ({delay:?}): the file is neither the original nor the repair ({} bytes)", now.len());
        }
        if let Ok(bak) = std::fs::read(dir.join("SMS.sst.bak")) {
            assert_eq!(
                bak, original,
                "kill point {i}: a backup is always the whole original"
            );
        }
        // The next run cleans up after the killed one and finishes the job.
        let left = temps(&dir);
        let out = Command::new(support::certmig_exe())
            .arg("fix")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kill point {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        for t in &left {
            assert!(
                said.contains(&format!("removed {}", t.display())),
                "kill point {i}: stale {} not reported: {said}",
                t.display()
            );
            stale_cleaned += 1;
        }
        assert_eq!(
            temps(&dir),
            Vec::<PathBuf>::new(),
            "kill point {i}: no temporary file is left"
        );
        assert_eq!(std::fs::read(&file).unwrap(), repaired);
    }
    assert!(
        saw_original > 0 && saw_repaired > 0,
        "kills landed before and after the commit: {saw_original} / {saw_repaired}"
    );
    assert!(
        stale_cleaned > 0,
        "at least one kill landed while the temporary file was being written"
    );
}

#[test]
fn a_second_run_on_a_file_being_repaired_fails_clearly() {
    // The second run must start while the first is still working. Where
    // starting a process is slow (Windows under Wine: about half a second),
    // the first may already be done; then the second simply finds a
    // repaired file. So: a bigger store each time, until a run collides
    // (at most 4 tries); a collision must then be refused clearly.
    let work = tempfile::tempdir().unwrap();
    let mut collided = None;
    for (attempt, n) in [40_000, 120_000, 300_000, 600_000].into_iter().enumerate() {
        let dir = work.path().join(format!("try{attempt}"));
        let file = big_store(&dir, n);
        let original = std::fs::read(&file).unwrap();
        let mut first = Command::new(support::certmig_exe())
            .arg("fix")
            .arg(&file)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the first run is writing (it holds the lock by then).
        let deadline = Instant::now() + Duration::from_secs(20);
        while temps(&dir).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        assert!(!temps(&dir).is_empty(), "the first run started writing");
        let second = Command::new(support::certmig_exe())
            .arg("fix")
            .arg(&file)
            .output()
            .unwrap();
        let first_status = first.wait().unwrap();
        assert!(first_status.success());
        if second.status.code() == Some(0) {
            // Too late: the first run had renamed its repair over the file
            // before the second looked, and the second found nothing to do.
            continue;
        }
        collided = Some((dir, file, original, second));
        break;
    }
    let (dir, file, original, second) =
        collided.expect("a second run started while the first was still working");
    let work = &dir;
    assert_eq!(
        second.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another certmig fix is working on it"),
        "{err}"
    );
    // The result is the first run's repair, whole.
    let expected = work.join("expected.sst");
    std::fs::write(work.join("orig.sst"), &original).unwrap();
    let status = Command::new(support::certmig_exe())
        .arg("fix")
        .arg(work.join("orig.sst"))
        .arg("-o")
        .arg(&expected)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&expected).unwrap()
    );
    // A read-only run (to another output) may share the file with another reader.
    let a = Command::new(support::certmig_exe())
        .arg("fix")
        .arg(&file)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(a.status.success());
}
