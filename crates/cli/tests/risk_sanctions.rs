//! The sanctions hard rule of `risk` (methods.md §6.2): direct exposure to an address on a
//! sanctions list alerts with score 100 whatever the amount, judged per address as of the
//! transaction's date and as of today; a delisted address does not alert.
//!
//! Real chain: the first bitcoin payment (block 170, 2009-01-12), Satoshi's 12cbQLTF...
//! paying Hal Finney's 1Q2TWHE3.... Lists: 0xB10C-format XBT lists built in the test,
//! naming Satoshi's address, imported as dated versions.

mod common;
use common::*;

const SATOSHI: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
const HAL: &str = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";

fn list(dir: &std::path::Path, name: &str, addresses: &[&str]) -> std::path::PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("sanctioned_addresses_XBT.txt"), addresses.iter().map(|a| format!("{a}\n")).collect::<String>()).unwrap();
    d
}

fn alert(data: &std::path::Path) -> serde_json::Value {
    let r = json(&run(data, &["risk", HAL, "--json"]));
    serde_json::json!({"alert": r["sanctions_alert"], "score": r["receiving"]["score"], "direct": r["direct_sanctions_exposure"]})
}

#[test]
fn direct_sanctioned_counterparty_by_date_and_delisting() {
    let Some(shared) = fundtrace_core::testdata::dir("risk sanctions hard rule") else { return };
    let dir = tmp("risk-sanctions");
    let data = dir.join("data");
    assert!(run(&data, &["ingest", "btc", "--blocks-dir", &nbitcoin(&shared)]).status.success());
    // No lists: no alert.
    let none = json(&run(&data, &["risk", HAL, "--json"]));
    assert_eq!(none["sanctions_alert"], false);

    // Listed before the payment and still listed: alert at both dates.
    let before = list(&dir, "v1", &[SATOSHI]);
    assert!(run(&data, &["sanctions", "import", before.to_str().unwrap(), "--list-date", "2009-01-01"]).status.success());
    let r = alert(&data);
    assert_eq!(r["alert"], true, "{r}");
    assert_eq!(r["score"], 100.0);
    assert_eq!(r["direct"][0]["address"], SATOSHI);
    assert_eq!((r["direct"][0]["listed_at_transaction_date"].clone(), r["direct"][0]["listed_today"].clone()), (true.into(), true.into()));

    // Delisted by a later version: listed on the payment's date, not today. Still an alert
    // (the transaction was with a sanctioned party), and it says which date holds.
    let after = list(&dir, "v2", &[HAL]);
    assert!(run(&data, &["sanctions", "import", after.to_str().unwrap(), "--list-date", "2012-06-01"]).status.success());
    let r = alert(&data);
    assert_eq!(r["alert"], true, "{r}");
    assert_eq!((r["direct"][0]["listed_at_transaction_date"].clone(), r["direct"][0]["listed_today"].clone()), (true.into(), false.into()));
    std::fs::remove_dir_all(&dir).unwrap();

    // Listed only after the payment and then delisted: never listed on either date: no alert.
    let dir = tmp("risk-sanctions-late");
    let data = dir.join("data");
    assert!(run(&data, &["ingest", "btc", "--blocks-dir", &nbitcoin(&shared)]).status.success());
    for (name, date, who) in [("v1", "2010-01-01", SATOSHI), ("v2", "2011-01-01", HAL)] {
        let d = list(&dir, name, &[who]);
        assert!(run(&data, &["sanctions", "import", d.to_str().unwrap(), "--list-date", date]).status.success());
    }
    let r = alert(&data);
    assert_eq!(r["alert"], false, "{r}");
    std::fs::remove_dir_all(&dir).unwrap();
}
