//! Exposure and risk (methods.md §6.2): how much of what an address received came, directly
//! or through unattributed hops, from entities of each risk category, and a score a person
//! can check from the explanation that comes with it.
//!
//! E_c = Σ_h λ^(h−1) · X_{c,h}; share_c = E_c / V_in;
//! score = 100 · max_c sev(c) · min(1, share_c / τ(c)).
//! Direct exposure (h = 1) to a sanctioned address sets the score to 100 with an alert,
//! whatever the amount.

use std::collections::BTreeMap;

use serde::Serialize;

/// Risk categories and their defaults (methods.md §6.2): (name, severity, saturation share).
pub const CATEGORIES: [(&str, f64, f64); 11] = [
    ("sanctioned", 1.0, 0.01),
    ("stolen_funds", 1.0, 0.05),
    ("ransomware", 1.0, 0.05),
    ("csam", 1.0, 0.3),
    ("darknet_market", 0.9, 0.3),
    ("mixer", 0.8, 0.2),
    ("scam", 0.8, 0.3),
    ("high_risk_exchange", 0.5, 0.3),
    ("gambling", 0.3, 0.3),
    ("exchange", 0.0, 0.3),
    ("other", 0.0, 0.3),
];

/// The risk category of an attribution, from GraphSense concepts: abuse first (what the
/// funds are), then the entity's category (what kind of service holds them).
pub fn category_of(category: Option<&str>, abuse: Option<&str>) -> &'static str {
    match abuse.unwrap_or("") {
        "sanction" => return "sanctioned",
        "hacking" | "service_hack" | "account_hack" | "exploit" | "data_breach" | "social_engineering" => return "stolen_funds",
        "ransomware" => return "ransomware",
        "sexual_abuse" | "csam" => return "csam",
        "dark_web" | "drugs" | "weapons" => return "darknet_market",
        "scam" | "investment_fraud" | "ponzi" | "pyramid" | "phishing" | "extortion" | "sextortion" | "payment_card_fraud" => return "scam",
        _ => {}
    }
    match category.unwrap_or("") {
        "mixing_service" | "coinjoin" => "mixer",
        "market" => "darknet_market",
        "gambling" => "gambling",
        "exchange" | "wallet_service" | "payment_processor" | "atm" | "escrow" => "exchange",
        _ => "other",
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RiskParams {
    /// Hop decay λ.
    pub lambda: f64,
    /// Maximum hops H.
    pub max_hops: u32,
    pub severity: BTreeMap<String, f64>,
    pub saturation: BTreeMap<String, f64>,
}

impl Default for RiskParams {
    fn default() -> Self {
        RiskParams {
            lambda: 0.5,
            max_hops: 5,
            severity: CATEGORIES.iter().map(|&(c, s, _)| (c.to_string(), s)).collect(),
            saturation: CATEGORIES.iter().map(|&(c, _, t)| (c.to_string(), t)).collect(),
        }
    }
}

/// Value from one category at one hop distance (X_{c,h}), with a sample path as evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Exposure {
    pub category: String,
    pub hop: u32,
    pub value: u64,
    /// Entities behind it (keys) and a sample path of transaction ids.
    pub entities: Vec<u32>,
    pub path: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CategoryScore {
    pub category: String,
    /// E_c: exposure after hop decay.
    pub exposure: f64,
    pub share: f64,
    /// sev(c) · min(1, share / τ(c)), the category's part of the score (0..1).
    pub term: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RiskScore {
    pub score: f64,
    /// The category that set the score (none when no category contributes).
    pub driver: Option<String>,
    /// Direct exposure to a sanctioned address: mandatory alert, score 100.
    pub sanctions_alert: bool,
    pub total_value: u64,
    pub categories: Vec<CategoryScore>,
    pub exposures: Vec<Exposure>,
}

/// Scores exposures of a side (receiving or sending) that moved `total_value` in all.
/// `direct_sanctioned`: a direct counterparty address was on a sanctions list on the date of
/// the transaction or is today (decided by the caller from the listings, per address, since
/// a cluster's category is not evidence enough for a mandatory alert).
pub fn score(exposures: Vec<Exposure>, total_value: u64, direct_sanctioned: bool, p: &RiskParams) -> RiskScore {
    let mut e_c: BTreeMap<String, f64> = BTreeMap::new();
    for x in exposures.iter().filter(|x| x.hop >= 1 && x.hop <= p.max_hops) {
        *e_c.entry(x.category.clone()).or_default() += p.lambda.powi(x.hop as i32 - 1) * x.value as f64;
    }
    let mut categories: Vec<CategoryScore> = e_c
        .into_iter()
        .map(|(c, e)| {
            let share = if total_value == 0 { 0.0 } else { e / total_value as f64 };
            let sev = p.severity.get(&c).copied().unwrap_or(0.0);
            let tau = p.saturation.get(&c).copied().unwrap_or(0.3);
            CategoryScore { term: sev * (share / tau).min(1.0), category: c, exposure: e, share }
        })
        .collect();
    categories.sort_by(|a, b| b.term.total_cmp(&a.term).then(a.category.cmp(&b.category)));
    let sanctions_alert = direct_sanctioned;
    let top = categories.first().filter(|c| c.term > 0.0);
    let (score, driver) = if sanctions_alert {
        (100.0, Some("sanctioned".to_string()))
    } else {
        (top.map_or(0.0, |c| 100.0 * c.term), top.map(|c| c.category.clone()))
    };
    RiskScore { score, driver, sanctions_alert, total_value, categories, exposures }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::backward::{backward, BackwardOptions, Origin};
    use crate::trace::graph::{FlowGraph, MemGraph};

    const ETH: u64 = 1_000_000_000; // base units of the example, scaled

    /// The worked example of methods.md §6.2, end to end through the backward trace: A
    /// received 10 in all: 4 from a regulated exchange, 1 from a mixer, 5 from unattributed B,
    /// 10% of whose inflow came directly from a DPRK-attributed hack wallet. Score 50.
    #[test]
    fn worked_example_scores_50_driven_by_indirect_stolen_funds() {
        let (a, exchange, mixer, dprk, clean, b) = (1u32, 10u32, 11u32, 12u32, 13u32, 20u32);
        let mut g = MemGraph::default();
        let mint = g.tx(&[], &[(exchange, 4 * ETH), (mixer, ETH), (dprk, ETH), (clean, 9 * ETH)]);
        let m = g.outputs(mint).start;
        let fund_b = g.tx(&[m + 2, m + 3], &[(b, 10 * ETH)]);
        let from_exchange = g.tx(&[m], &[(a, 4 * ETH)]);
        let from_mixer = g.tx(&[m + 1], &[(a, ETH)]);
        let from_b = g.tx(&[g.outputs(fund_b).start], &[(a, 5 * ETH), (b, 5 * ETH)]);
        let targets: Vec<(u64, u64)> =
            [from_exchange, from_mixer, from_b].iter().map(|&t| g.outputs(t).start).map(|o| (o, g.value(o))).collect();
        let category = |x: u32| match x {
            10 => Some("exchange"),
            11 => Some("mixer"),
            12 => Some("stolen_funds"),
            _ => None,
        };
        let trace = backward(&g, &targets, &BackwardOptions { min_amount: 1, ..Default::default() }, &|x| category(x).map(|_| x));
        let exposures: Vec<Exposure> = trace
            .sources
            .iter()
            .filter_map(|s| match s.origin {
                Origin::Entity(e) => Some(Exposure { category: category(e)?.to_string(), hop: s.hop, value: s.amount, entities: vec![e], path: s.path.clone() }),
                _ => None,
            })
            .collect();
        let r = score(exposures, trace.target_value, false, &RiskParams::default());
        assert_eq!(r.total_value, 10 * ETH);
        let stolen = r.categories.iter().find(|c| c.category == "stolen_funds").unwrap();
        let mixing = r.categories.iter().find(|c| c.category == "mixer").unwrap();
        assert!((stolen.exposure - 0.25 * ETH as f64).abs() < 1.0 && (stolen.term - 0.5).abs() < 1e-9);
        assert!((mixing.exposure - ETH as f64).abs() < 1.0 && (mixing.term - 0.4).abs() < 1e-9);
        assert!((r.score - 50.0).abs() < 1e-9, "score {}", r.score);
        assert_eq!(r.driver.as_deref(), Some("stolen_funds"));
        assert!(!r.sanctions_alert);
        // The stolen-funds evidence path runs DPRK wallet -> B -> A.
        let x = r.exposures.iter().find(|x| x.category == "stolen_funds").unwrap();
        assert_eq!((x.hop, x.value, x.path.clone()), (2, ETH / 2, vec![fund_b, from_b]));

        // If one inflow came directly from a sanctioned address: 100 and an alert, whatever
        // the amount (here 1 base unit).
        let mut with_sdn = r.exposures.clone();
        with_sdn.push(Exposure { category: "sanctioned".into(), hop: 1, value: 1, entities: vec![99], path: vec![] });
        let r2 = score(with_sdn, 10 * ETH, true, &RiskParams::default());
        assert_eq!((r2.score, r2.sanctions_alert, r2.driver.as_deref()), (100.0, true, Some("sanctioned")));
    }

    #[test]
    fn graphsense_concepts_map_to_risk_categories() {
        assert_eq!(category_of(Some("exchange"), None), "exchange");
        assert_eq!(category_of(Some("exchange"), Some("sanction")), "sanctioned");
        assert_eq!(category_of(None, Some("service_hack")), "stolen_funds");
        assert_eq!(category_of(Some("mixing_service"), None), "mixer");
        assert_eq!(category_of(Some("shop"), None), "other");
    }
}
