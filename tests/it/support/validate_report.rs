//! Reading `certmig validate --json` reports in the tests of hostile tools
//! (`hostile_tools`, `containment`).

/// The evidence of every violation of invariant `inv`, over all cases.
pub fn evidence(r: &serde_json::Value, inv: &str) -> Vec<String> {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["violations"].as_array().unwrap().iter())
        .filter(|v| v["invariant"] == inv)
        .map(|v| v["evidence"].as_str().unwrap().to_owned())
        .collect()
}

/// Every hazard reported, over all cases.
pub fn hazards(r: &serde_json::Value) -> Vec<String> {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["hazards"].as_array().unwrap().iter())
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

/// The hazards that name a write outside the case directory.
pub fn outside_writes(r: &serde_json::Value) -> Vec<String> {
    hazards(r)
        .into_iter()
        .filter(|h| h.contains("outside its case directory"))
        .collect()
}

/// True when the report says writes outside the case are prevented
/// (Linux with user namespaces).
pub fn writes_contained(r: &serde_json::Value) -> bool {
    r["containment"]["writes_prevented"] == true
}

/// True when a hazard names a process left running whose command line
/// holds `marker`.
pub fn left_running(r: &serde_json::Value, marker: &str) -> bool {
    hazards(r)
        .iter()
        .any(|h| h.contains("left processes running") && h.contains(marker))
}

/// Some evidence of invariant `inv` holds `what`.
pub fn assert_evidence(r: &serde_json::Value, inv: &str, what: &str) {
    assert!(
        evidence(r, inv).iter().any(|e| e.contains(what)),
        "{:?}",
        evidence(r, inv)
    );
}

/// Some hazard holds `what`.
pub fn assert_hazard(r: &serde_json::Value, what: &str) {
    assert!(
        hazards(r).iter().any(|h| h.contains(what)),
        "{:?}",
        hazards(r)
    );
}

/// A tool that floods its output: timed out (V10), and what the first run
/// printed is kept only up to a bound, saying that more was dropped.
pub fn assert_flood_cut(r: &serde_json::Value) {
    assert_evidence(r, "V10", "timed out");
    let stdout = r["cases"][0]["runs"][0]["stdout"].as_str().unwrap();
    assert!(
        stdout.len() < 70 * 1024 && stdout.contains("more bytes not kept"),
        "{} bytes kept",
        stdout.len()
    );
}
