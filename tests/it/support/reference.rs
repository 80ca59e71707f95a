//! Reference oracles: the slow, obviously right versions of what the
//! shipped code computes the fast way, kept here (not in the crates) so that
//! a test can hold the two equal.

use certmig::cryptoapi::{self, RuleSet, Verdict};
use certmig::format::{self, SerializedElement};
use certmig::scan::{CertificateReport, NameFindingReport, RejectionReport, ScanOptions, Verdicts};

/// A certificate's report as it was first written, each field on its own
/// (three SHA-1s and six walks of the DER per certificate, the signature
/// checked the slow way): what `scan::report_element` (one walk, through
/// `CertificateRecord`) must equal.
pub fn certificate_report(e: &SerializedElement<'_>, opts: ScanOptions) -> CertificateReport {
    let fname = e.friendly_name();
    let mut rejections = Vec::new();
    let mut verdict_under = |rules: RuleSet| match cryptoapi::import(e, rules) {
        Ok(_) => Verdict::Ok,
        Err(r) => {
            rejections.push(RejectionReport {
                rules,
                rule: r.rule.id,
                modelling_choice: r.rule.modelling_choice,
                hresult: r.hresult,
                offence: r.offence.to_string(),
            });
            Verdict::Rejected(r.hresult)
        }
    };
    let verdicts = Verdicts {
        legacy: verdict_under(RuleSet::Legacy),
        ms09_056: verdict_under(RuleSet::Ms09056),
    };
    let walked = format::der::CertificateView::parse(&e.der).ok();
    let serial_number = walked.as_ref().map(|v| format::der::serial_hex(&v.serial));
    let [not_before, not_after] = match walked.as_ref().and_then(|v| v.validity.as_ref()) {
        Some([a, b]) => [
            Some(format::der::time_text(a)),
            Some(format::der::time_text(b)),
        ],
        None => [None, None],
    };
    CertificateReport {
        thumbprint: e.thumbprint().to_hex(),
        subject: cryptoapi::exact_subject(&e.der),
        issuer: walked
            .as_ref()
            .map(cryptoapi::exact_issuer_in)
            .unwrap_or_default(),
        serial_number,
        not_before,
        not_after,
        friendly_name: fname.map(format::friendly_name::escape),
        friendly_name_hex: fname.map(hex::encode_upper),
        friendly_name_shape: fname.map(format::friendly_name::classify),
        property_ids: e.property_ids(),
        key_container: e
            .key_prov_info()
            .and_then(|k| k.ok())
            .and_then(|k| k.container),
        signature_valid: opts
            .verify_signatures
            .then(|| certmig::cert::verify_signature(&e.der)),
        verdicts,
        legacy_display_name: cryptoapi::legacy_display_name(e),
        rejections,
        names: match e.kind {
            format::ContextKind::Certificate => cryptoapi::name_findings(&e.der)
                .into_iter()
                .map(NameFindingReport::from)
                .collect(),
            _ => Vec::new(),
        },
    }
}
