//! Is a config live? Decided from the gateway replicas' Lease reports
//! ([`hermes_compiler::contract::GatewayReport`]): live when at least one replica reports
//! fresh and every fresh replica serves the config's hash. Stale reports (a replica that
//! stopped renewing) are ignored, so a dead gateway never blocks readiness for longer
//! than its lease duration.

use hermes_compiler::contract::GatewayReport;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Where a config stands with the gateways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// No gateway replica reports fresh.
    NoGateway,
    /// Every fresh replica serves the hash.
    Live {
        /// How many replicas serve it.
        replicas: usize,
    },
    /// Some fresh replicas do not serve it (yet).
    Pending {
        /// The replicas behind, sorted by id.
        behind: Vec<Behind>,
        /// How many fresh replicas do serve it.
        serving: usize,
    },
}

/// A fresh replica that does not serve the wanted hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behind {
    /// The replica's id.
    pub replica: String,
    /// What it serves instead.
    pub serving: Option<String>,
    /// Why it refused the wanted config, when it says it did.
    pub refused: Option<String>,
}

/// The verdict and when it can change without any Lease event: a reconcile should run
/// again at `recheck_at` (a replica's report expiring is silent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The decision.
    pub liveness: Liveness,
    /// When an expiry can change it.
    pub recheck_at: Option<Timestamp>,
}

/// Decide whether `hash` is live at `now`.
pub fn decide(reports: &[GatewayReport], hash: &str, now: Timestamp) -> Verdict {
    let fresh: Vec<&GatewayReport> = reports.iter().filter(|r| r.is_fresh(now)).collect();
    if fresh.is_empty() {
        return Verdict {
            liveness: Liveness::NoGateway,
            recheck_at: None,
        };
    }
    let (serving, behind): (Vec<&GatewayReport>, Vec<&GatewayReport>) = fresh
        .into_iter()
        .partition(|r| r.hash.as_deref() == Some(hash));
    if behind.is_empty() {
        // Only the last serving replica expiring changes the verdict (to NoGateway).
        let recheck_at = serving.iter().filter_map(|r| r.expires_at()).max();
        return Verdict {
            liveness: Liveness::Live {
                replicas: serving.len(),
            },
            recheck_at,
        };
    }
    // Any replica behind expiring may make the config live.
    let recheck_at = behind.iter().filter_map(|r| r.expires_at()).min();
    let mut behind: Vec<Behind> = behind
        .into_iter()
        .map(|r| Behind {
            replica: r.replica.clone(),
            serving: r.hash.clone(),
            refused: r.error.as_ref().filter(|e| e.starts_with(hash)).map(|e| {
                e.trim_start_matches(hash)
                    .trim_start_matches(':')
                    .trim()
                    .to_string()
            }),
        })
        .collect();
    behind.sort_by(|a, b| a.replica.cmp(&b.replica));
    Verdict {
        liveness: Liveness::Pending {
            behind,
            serving: serving.len(),
        },
        recheck_at,
    }
}

/// Leases of replicas gone for longer than `retention` after their report expired
/// (pods replaced long ago): safe to delete, they no longer count anyway.
pub fn long_gone(
    leases: &[(String, GatewayReport)],
    now: Timestamp,
    retention: SignedDuration,
) -> Vec<&str> {
    leases
        .iter()
        .filter(|(_, report)| {
            report
                .expires_at()
                .and_then(|expired| expired.checked_add(retention).ok())
                .is_none_or(|gone| gone < now)
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    fn report(replica: &str, hash: Option<&str>, renewed_secs_ago: i64) -> GatewayReport {
        GatewayReport {
            replica: replica.into(),
            hash: hash.map(str::to_string),
            error: None,
            renew_time: Some(now() - SignedDuration::from_secs(renewed_secs_ago)),
            duration: SignedDuration::from_secs(10),
            failing_topics: Vec::new(),
        }
    }

    #[test]
    fn no_reports_means_no_gateway() {
        assert_eq!(decide(&[], "h1", now()).liveness, Liveness::NoGateway);
    }

    #[test]
    fn stale_reports_are_ignored() {
        let reports = [report("a", Some("h0"), 30), report("b", Some("h1"), 2)];
        let verdict = decide(&reports, "h1", now());
        assert_eq!(verdict.liveness, Liveness::Live { replicas: 1 });
        assert_eq!(
            verdict.recheck_at,
            Some(now() + SignedDuration::from_secs(8))
        );
        let only_stale = [report("a", Some("h1"), 10)];
        assert_eq!(
            decide(&only_stale, "h1", now()).liveness,
            Liveness::NoGateway
        );
    }

    #[test]
    fn a_fresh_replica_on_another_hash_keeps_it_pending_until_it_expires() {
        let reports = [
            report("b", Some("h1"), 1),
            report("a", Some("h0"), 3),
            report("c", None, 1),
        ];
        let verdict = decide(&reports, "h1", now());
        let Liveness::Pending { behind, serving } = verdict.liveness else {
            panic!("expected pending");
        };
        assert_eq!(serving, 1);
        assert_eq!(
            behind
                .iter()
                .map(|b| b.replica.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(behind[0].serving.as_deref(), Some("h0"));
        // "a" expires first (renewed 3 s ago): then the verdict may change.
        assert_eq!(
            verdict.recheck_at,
            Some(now() + SignedDuration::from_secs(7))
        );
    }

    #[test]
    fn a_refusal_of_the_wanted_hash_is_reported() {
        let mut refusing = report("a", Some("h0"), 1);
        refusing.error = Some("h1: config cannot be prepared: regex too big".into());
        let mut old_refusal = report("b", Some("h0"), 1);
        old_refusal.error = Some("h9: something else".into());
        let verdict = decide(&[refusing, old_refusal], "h1", now());
        let Liveness::Pending { behind, .. } = verdict.liveness else {
            panic!("expected pending");
        };
        assert_eq!(
            behind[0].refused.as_deref(),
            Some("config cannot be prepared: regex too big")
        );
        assert_eq!(behind[1].refused, None);
    }

    #[test]
    fn only_leases_expired_past_the_retention_are_long_gone() {
        let leases = [
            (
                "hermes-gateway-a".to_string(),
                report("a", Some("h"), 3600 + 20),
            ),
            ("hermes-gateway-b".to_string(), report("b", Some("h"), 60)),
            ("hermes-gateway-c".to_string(), report("c", Some("h"), 1)),
        ];
        let gone = long_gone(&leases, now(), SignedDuration::from_secs(3600));
        assert_eq!(gone, ["hermes-gateway-a"]);
    }
}
