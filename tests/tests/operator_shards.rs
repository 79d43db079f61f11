//! A config of Tags split into shard ConfigMaps, end to end: realistic Tags and Triggers
//! (`hermes_compiler::synthetic::realistic`, which compress about as badly as real ones)
//! with the operator's ConfigMap limit lowered (`--config-shard-bytes`) so that a few
//! hundred of them need several shards, as 10,000 do at the real limit. The operator and
//! the gateway run as processes against the real API server and the Pub/Sub emulator.

use std::io::Read;
use std::time::Duration;

use flate2::read::GzDecoder;
use hermes_compiler::config::GatewayConfig;
use hermes_compiler::contract;
use hermes_compiler::synthetic::Variety;
use hermes_tests::gateway_config::wait_config;
use hermes_tests::scale;
use hermes_tests::stack::{Stack, StackArgs};
use hermes_tests::{TIMEOUT, wait_for};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;

const VARIETY: Variety = Variety::REALISTIC;
/// About 300 KB of JSON and 25 KB of gzip.
const PAIRS: usize = 200;
/// Two shards or more for [`PAIRS`]; the few pairs kept fit one ConfigMap.
const SHARD_BYTES: usize = 12 * 1024;
/// What is left after deleting most pairs: a plain JSON config of a few KB.
const KEPT: usize = 5;
/// 400 objects applied and their statuses patched, debug binaries on a loaded machine.
const ALL_LIVE_WITHIN: Duration = Duration::from_secs(120);

/// What the first shard of the config decompresses to on its own: the start of the
/// config's JSON.
fn first_shard_text(shard: &ConfigMap) -> String {
    let part =
        &shard.binary_data.as_ref().expect("shard has binaryData")[contract::CONFIG_GZIP_PART_KEY];
    let mut text = Vec::new();
    // The stream is cut short: reading ends with an error after what it could decode.
    let _ = GzDecoder::new(part.0.as_slice()).read_to_end(&mut text);
    String::from_utf8_lossy(&text).into_owned()
}

/// [`scale::last_tag_with_a_hit`], which `config` holds.
fn last_pair_with_a_hit(config: &GatewayConfig, pairs: std::ops::Range<usize>) -> usize {
    let last = scale::last_tag_with_a_hit(VARIETY, pairs).expect("some pair has a gtag hit");
    assert!(config.tags.contains_key(&VARIETY.tag_name(last)));
    last
}

/// Pair `i`'s hit publishes its Tag's message, at version 1.
async fn assert_publishes_version_1(stack: &Stack, i: usize) {
    let (message, _) = scale::message_of_pair(stack, VARIETY, i).await.unwrap();
    let version = &message.json().unwrap()["version"];
    assert_eq!(version, "1", "pair {i}: {}", message.text());
}

async fn shard_config_maps(stack: &Stack) -> Vec<ConfigMap> {
    let selector = ListParams::default().labels(contract::CONFIG_SHARD_LABEL_SELECTOR);
    stack
        .ns
        .api::<ConfigMap>()
        .list(&selector)
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn realistic_tags_split_into_shards_a_tag_of_a_later_shard_publishes_and_stale_shards_go() {
    let args = StackArgs {
        operator: vec!["--config-shard-bytes".into(), SHARD_BYTES.to_string()],
        ..StackArgs::default()
    };
    let stack = Stack::start_with("shards", 1, args).await;
    scale::create_topics(&stack, VARIETY).await.unwrap();

    scale::apply_pairs(&stack, VARIETY, PAIRS, 1).await.unwrap();
    let hash = scale::wait_all_live(&stack, PAIRS, ALL_LIVE_WITHIN)
        .await
        .unwrap();
    let size = scale::config_size(&stack).await.unwrap();
    assert_eq!(
        (size.hash.as_str(), size.encoding.as_str()),
        (hash.as_str(), "gzip-shards")
    );
    assert!(size.shards >= 2, "{size:?}");
    let config = wait_config(&stack.ns, |c| {
        (c.hash == hash)
            .then_some(())
            .ok_or(format!("config {}", c.hash))
    })
    .await;
    assert_eq!(config.tags.len(), PAIRS);

    // Every shard the config names is there, no larger than the limit, with its hash.
    let config_map = stack
        .ns
        .api::<ConfigMap>()
        .get(contract::DEFAULT_CONFIG_MAP)
        .await
        .unwrap();
    let names = contract::shard_names(&config_map).unwrap();
    let shards = shard_config_maps(&stack).await;
    let shard = |name: &str| {
        shards
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("shard {name} missing"))
    };
    for name in &names {
        let part = &shard(name).binary_data.as_ref().unwrap()[contract::CONFIG_GZIP_PART_KEY];
        assert!(
            part.0.len() <= SHARD_BYTES,
            "{name}: {} bytes",
            part.0.len()
        );
        assert_eq!(contract::declared_hash(shard(name)), Some(hash.as_str()));
    }

    // The Tag defined last is not in the first shard: the gateway assembled the shards.
    let late = last_pair_with_a_hit(&config, 0..PAIRS);
    let late_tag = VARIETY.tag_name(late);
    let first = first_shard_text(shard(names[0]));
    assert!(first.starts_with("{\"version\""), "{:.80}", first);
    assert!(
        !first.contains(&format!("\"{late_tag}\"")),
        "{late_tag} is already in the first shard"
    );
    assert_publishes_version_1(&stack, late).await;
    assert_eq!(stack.gateway_hash().await.as_deref(), Some(hash.as_str()));

    // Deleting most pairs: a small plain config, the shards deleted, still serving.
    scale::delete_pairs(&stack, VARIETY, KEPT..PAIRS)
        .await
        .unwrap();
    let small = wait_config(&stack.ns, |c| match (c.tags.len(), c.triggers.len()) {
        (KEPT, KEPT) => Ok(()),
        (tags, triggers) => Err(format!("{tags} Tags, {triggers} Triggers in the config")),
    })
    .await;
    let live = scale::wait_all_live(&stack, KEPT, ALL_LIVE_WITHIN)
        .await
        .unwrap();
    assert_eq!(live, small.hash);
    let size = scale::config_size(&stack).await.unwrap();
    assert_eq!((size.encoding.as_str(), size.shards), ("json", 0));
    wait_for(TIMEOUT, || async {
        match shard_config_maps(&stack).await.len() {
            0 => Ok(()),
            n => Err(format!("{n} shard ConfigMaps left")),
        }
    })
    .await
    .unwrap();
    let kept = last_pair_with_a_hit(&small, 0..KEPT);
    assert_publishes_version_1(&stack, kept).await;
}
