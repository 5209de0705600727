//! The data-set story of issue 15 over a real network: each version of a
//! data set stored with `mosaic put`, a name pointed at each with `mosaic
//! name set`, its history listed, an earlier version fetched by the CID the
//! name recorded; then the name changes hands and is released.

use anyhow::{ensure, Context, Result};
use mosaic_api::keys::AccountKey;
use mosaic_tests::{write_sample, Network};

use crate::storage::get_back;

const NAME: &str = "team.dataset";

#[tokio::test(flavor = "multi_thread")]
async fn a_name_follows_the_versions_of_a_data_set() -> Result<()> {
    let net = Network::start(3, "1GiB").await?;
    let owner = net.funded_account("owner", "1000").await?;
    let owner = owner.to_str().context("UTF-8")?;

    // Two versions of the data set, each stored on three providers.
    let mut versions = Vec::new();
    for seed in 1..=2u64 {
        let file = net.path(&format!("v{seed}.bin"));
        write_sample(&file, 300_000, seed)?;
        let text = file.to_str().context("UTF-8")?;
        let put = net.put_public(text, owner).await?;
        let cid = put["cid"].as_str().context("put names the CID")?;
        versions.push((file, cid.to_string()));
    }

    let registered = net
        .mosaic_json(&["name", "register", NAME, "--key", owner])
        .await?;
    ensure!(registered["deposit"].as_str().is_some(), "{registered}");
    for (number, (_, cid)) in versions.iter().enumerate() {
        let set = net
            .mosaic_json(&["name", "set", NAME, cid, "--key", owner])
            .await?;
        ensure!(set["version"] == number as u64 + 1, "{set}");
    }

    // A CID no order stores is refused unless forced.
    let unstored = net.path("unstored.bin");
    write_sample(&unstored, 1_000, 9)?;
    let unstored_cid = net
        .mosaic(&["cid", unstored.to_str().context("UTF-8")?])
        .await?;
    let unstored_cid = unstored_cid.trim();
    let (ok, _, stderr) = net
        .mosaic_unchecked(&["name", "set", NAME, unstored_cid, "--key", owner])
        .await?;
    ensure!(!ok && stderr.contains("no live order"), "{stderr}");
    let forced = net
        .mosaic_json(&["name", "set", NAME, unstored_cid, "--key", owner, "--force"])
        .await?;
    ensure!(forced["version"] == 3, "{forced}");

    // The history, newest first, and each version by number.
    let history = net.mosaic_json(&["name", "history", NAME]).await?;
    let listed: Vec<(u64, String)> = history["versions"]
        .as_array()
        .context("a list of versions")?
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap_or_default(),
                v["cid"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    ensure!(
        listed
            == vec![
                (3, unstored_cid.to_string()),
                (2, versions[1].1.clone()),
                (1, versions[0].1.clone()),
            ],
        "{history}"
    );
    let latest = net.mosaic(&["name", "resolve", NAME]).await?;
    ensure!(latest.trim() == unstored_cid, "{latest}");
    let first = net
        .mosaic_json(&["name", "resolve", NAME, "--version", "1"])
        .await?;
    ensure!(
        first["cid"] == versions[0].1.as_str() && first["latest"] == 3,
        "{first}"
    );
    let (ok, _, stderr) = net
        .mosaic_unchecked(&["name", "resolve", NAME, "--version", "4"])
        .await?;
    ensure!(!ok && stderr.contains("no version 4"), "{stderr}");

    // The first version comes back by the CID the name recorded.
    let first_cid = first["cid"].as_str().context("a CID")?;
    let out = net.path("v1.out");
    get_back(&net, first_cid, &out, owner, &versions[0].0, "version 1").await?;

    // The name, its history and its deposits go to an heir, who releases it.
    let heir = net.funded_account("heir", "10").await?;
    let heir_address = AccountKey::load(&heir)?.address();
    let heir = heir.to_str().context("UTF-8")?;
    let owned = net.mosaic_json(&["name", "ls", "--key", owner]).await?;
    ensure!(owned["names"] == serde_json::json!([NAME]), "{owned}");
    net.mosaic_json(&[
        "name",
        "transfer",
        NAME,
        "--to",
        &heir_address,
        "--key",
        owner,
    ])
    .await?;
    let owned = net
        .mosaic_json(&["name", "ls", "--owner", &heir_address])
        .await?;
    ensure!(owned["names"] == serde_json::json!([NAME]), "{owned}");
    let (ok, _, stderr) = net
        .mosaic_unchecked(&["name", "release", NAME, "--key", owner])
        .await?;
    ensure!(!ok && stderr.contains("NotOwner"), "{stderr}");
    let released = net
        .mosaic_json(&["name", "release", NAME, "--key", heir])
        .await?;
    ensure!(released["refund"].as_str().is_some(), "{released}");
    let (ok, _, stderr) = net.mosaic_unchecked(&["name", "resolve", NAME]).await?;
    ensure!(!ok && stderr.contains("no name"), "{stderr}");
    Ok(())
}
