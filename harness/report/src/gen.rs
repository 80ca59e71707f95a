//! `certmig gen`'s human summary.

use certmig_engine::generate::GenReport;

/// One line: files, machines, certificates and where; plus a note when the
/// certificates were stamped in bulk (their signatures do not verify).
pub fn human(report: &GenReport, bulk: bool) -> String {
    let certs: usize = report.machines.iter().map(|m| m.certificates.len()).sum();
    let files: usize = report.machines.iter().map(|m| m.files.len()).sum();
    let mut out = format!(
        "wrote {files} file(s) for {} machine(s), {certs} certificate(s), to {}\n",
        report.machines.len(),
        report.out.display()
    );
    if bulk {
        out.push_str(
            "note: --bulk certificates carry invalid signatures (scan reports signature NOT valid)\n",
        );
    }
    out
}
