//! Severity rules shared by every parser: scanner labels, CVSS scores and, when a report gives
//! several ratings for one vulnerability, which one counts.

use imagedex_model::Severity;

/// The bucket of a severity label, whatever its case: `critical`, `high`, `medium`, `low`;
/// `negligible` (Grype), `info` and `none` (CycloneDX) are `none`; anything else is `unknown`.
pub fn from_label(label: Option<&str>) -> Severity {
    let Some(label) = label else {
        return Severity::Unknown;
    };
    match label.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" => Severity::Low,
        "negligible" | "info" | "none" => Severity::None,
        _ => Severity::Unknown,
    }
}

/// The bucket of a CVSS base score, with the bands of CVSS v3: critical from 9.0, high from
/// 7.0, medium from 4.0, low from 0.1, none below. A score outside 0–10 is `unknown`.
pub fn from_cvss_score(score: f64) -> Severity {
    if !(0.0..=10.0).contains(&score) {
        return Severity::Unknown;
    }
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score >= 0.1 {
        Severity::Low
    } else {
        Severity::None
    }
}

/// One rating of a vulnerability: who gave it, and the severity it comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating<'a> {
    pub source: Option<&'a str>,
    pub severity: Severity,
}

/// The severity of a vulnerability rated several times: the highest rating given by the
/// vulnerability's own source when it gave a known one, else the highest of all; `unknown`
/// without ratings. The own source is the one whose advisory the report lists, so its verdict is the
/// one that fits the affected package (a distribution's rating over NVD's, for instance).
pub fn pick(own_source: Option<&str>, ratings: &[Rating<'_>]) -> Severity {
    let highest = |own_only: bool| {
        ratings
            .iter()
            .filter(|r| !own_only || (own_source.is_some() && r.source == own_source))
            .map(|r| r.severity)
            .max()
    };
    highest(true)
        .filter(|s| *s != Severity::Unknown)
        .or_else(|| highest(false))
        .unwrap_or(Severity::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_fall_into_the_cvss_bands_at_every_boundary() {
        let cases = [
            (10.0, Severity::Critical),
            (9.0, Severity::Critical),
            (8.9, Severity::High),
            (8.99, Severity::High),
            (7.0, Severity::High),
            (6.99, Severity::Medium),
            (6.9, Severity::Medium),
            (4.0, Severity::Medium),
            (3.99, Severity::Low),
            (3.9, Severity::Low),
            (0.1, Severity::Low),
            (0.09, Severity::None),
            (0.0, Severity::None),
            (-0.1, Severity::Unknown),
            (10.1, Severity::Unknown),
            (f64::NAN, Severity::Unknown),
            (f64::INFINITY, Severity::Unknown),
        ];
        for (score, expected) in cases {
            assert_eq!(from_cvss_score(score), expected, "score {score}");
        }
    }

    #[test]
    fn labels_of_every_scanner_map_to_the_buckets() {
        let cases = [
            (Some("CRITICAL"), Severity::Critical),
            (Some("Critical"), Severity::Critical),
            (Some("high"), Severity::High),
            (Some("Medium"), Severity::Medium),
            (Some("LOW"), Severity::Low),
            (Some("Negligible"), Severity::None),
            (Some("info"), Severity::None),
            (Some("none"), Severity::None),
            (Some("Unknown"), Severity::Unknown),
            (Some("moderate"), Severity::Unknown),
            (Some(""), Severity::Unknown),
            (None, Severity::Unknown),
        ];
        for (label, expected) in cases {
            assert_eq!(from_label(label), expected, "label {label:?}");
        }
    }

    fn rating(source: &str, severity: Severity) -> Rating<'_> {
        Rating {
            source: Some(source),
            severity,
        }
    }

    #[test]
    fn the_vulnerabilitys_own_source_wins_over_higher_ratings() {
        let ratings = [
            rating("nvd", Severity::Critical),
            rating("debian", Severity::Low),
            rating("redhat", Severity::Medium),
        ];
        assert_eq!(pick(Some("debian"), &ratings), Severity::Low);
    }

    #[test]
    fn several_ratings_of_the_own_source_give_their_highest() {
        let ratings = [
            rating("nvd", Severity::None),
            rating("nvd", Severity::Medium),
            rating("redhat", Severity::High),
        ];
        assert_eq!(pick(Some("nvd"), &ratings), Severity::Medium);
    }

    #[test]
    fn without_a_rating_of_the_own_source_the_highest_wins() {
        let ratings = [
            rating("ubuntu", Severity::Low),
            rating("nvd", Severity::Critical),
            rating("amazon", Severity::Medium),
        ];
        assert_eq!(pick(Some("debian"), &ratings), Severity::Critical);
        assert_eq!(pick(None, &ratings), Severity::Critical);
    }

    #[test]
    fn a_known_severity_beats_an_unknown_one_and_no_rating_is_unknown() {
        let unnamed = Rating {
            source: None,
            severity: Severity::Unknown,
        };
        assert_eq!(
            pick(None, &[unnamed, rating("nvd", Severity::None)]),
            Severity::None
        );
        assert_eq!(pick(Some("nvd"), &[]), Severity::Unknown);
        let own_unknown = [
            rating("debian", Severity::Unknown),
            rating("nvd", Severity::High),
        ];
        assert_eq!(pick(Some("debian"), &own_unknown), Severity::High);
    }
}
