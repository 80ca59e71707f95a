//! `certmig gen`'s human summary.

use certmig_stores::generate::GenReport;

/// One line: files, machines, certificates and where; plus a note when the
/// certificates were stamped in bulk (their signatures do not verify).
pub fn human(report: &GenReport, bulk: bool) -> String {
    let mut out = format!(
        "wrote {} file(s) for {} machine(s), {} certificate(s), to {}\n",
        crate::text::group_digits(report.file_count as u64),
        crate::text::group_digits(report.machine_count as u64),
        crate::text::group_digits(report.certificate_count as u64),
        report.out.display()
    );
    if bulk {
        out.push_str(
            "note: --bulk certificates carry invalid signatures (scan --verify-signatures reports signature NOT valid)\n",
        );
    }
    out
}
