//! Calls, errors, events, deposits and the API helpers: registering,
//! versions and their bound, history pages, transfer and release.

use crate::mock::*;
use crate::weights::WeightInfo;
use crate::{
    is_valid_name, CidOf, Entry, Error, Event, HoldReason, Name, NamesOf, Records, Resolution,
    Versions, MAX_NAME_LEN,
};
use mosaic_primitives::unixfs::file_cid;
use polkadot_sdk::frame_support::traits::fungible::{Inspect, InspectHold};
use polkadot_sdk::frame_support::traits::Hooks;
use polkadot_sdk::frame_support::{assert_noop, assert_ok, BoundedVec};
use polkadot_sdk::sp_runtime::TokenError;

const OWNER: AccountId = 1;
const OTHER: AccountId = 2;
/// An account that does not exist: it holds nothing.
const NOBODY: AccountId = 10;

fn name(text: &str) -> Name {
    Name::try_from(text.as_bytes().to_vec()).expect("a test name fits")
}

/// The CID of a small public object made of `n`.
fn cid(n: u8) -> CidOf<Test> {
    BoundedVec::truncate_from(file_cid(&[n; 3]).to_bytes())
}

fn held(who: AccountId) -> Balance {
    Balances::balance_on_hold(&HoldReason::Deposit.into(), &who)
}

fn free(who: AccountId) -> Balance {
    Balances::balance(&who)
}

fn register(who: AccountId, text: &str) {
    assert_ok!(Names::register(RuntimeOrigin::signed(who), name(text)));
}

fn set(who: AccountId, text: &str, n: u8) {
    assert_ok!(Names::set(RuntimeOrigin::signed(who), name(text), cid(n)));
}

/// `text` resolved at `version` (the latest if `None`).
fn resolve(text: &str, version: Option<u32>) -> Option<Resolution<AccountId, u64>> {
    Names::resolve(text.as_bytes(), version)
}

fn entry(version: u32, n: u8, set_at: u64) -> Entry<u64> {
    Entry {
        version,
        cid: cid(n).into_inner(),
        set_at,
    }
}

#[test]
fn register_holds_the_name_deposit_and_indexes_the_name() {
    ExtBuilder.run(|| {
        register(OWNER, "photos");
        assert_eq!(held(OWNER), NAME_DEPOSIT);
        assert_eq!(free(OWNER), ENDOWMENT - NAME_DEPOSIT);
        assert_eq!(Names::names_of(&OWNER), vec![name("photos")]);
        System::assert_last_event(RuntimeEvent::Names(Event::Registered {
            name: name("photos"),
            owner: OWNER,
            deposit: NAME_DEPOSIT,
        }));
        // Registered, never set: it resolves to its owner and no version.
        assert_eq!(
            resolve("photos", None),
            Some(Resolution {
                owner: OWNER,
                latest: 0,
                oldest: 1,
                entry: None,
            })
        );
        assert_eq!(resolve("nothing", None), None);
    });
}

#[test]
fn a_name_set_three_times_resolves_to_each_version() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        for (block, n) in [(1, 11), (2, 22), (3, 33)] {
            System::set_block_number(block);
            set(OWNER, "dataset", n);
            System::assert_last_event(RuntimeEvent::Names(Event::Set {
                name: name("dataset"),
                version: block as u32,
                cid: cid(n),
                deposit: VERSION_DEPOSIT,
            }));
        }
        let latest = resolve("dataset", None).expect("registered");
        assert_eq!((latest.latest, latest.oldest), (3, 1));
        assert_eq!(latest.entry, Some(entry(3, 33, 3)));
        for (version, n) in [(1, 11), (2, 22), (3, 33)] {
            let at = resolve("dataset", Some(version)).expect("registered");
            assert_eq!(at.entry, Some(entry(version, n, u64::from(version))));
        }
        // Versions are numbered from 1; none past the latest.
        assert_eq!(resolve("dataset", Some(0)).unwrap().entry, None);
        assert_eq!(resolve("dataset", Some(4)).unwrap().entry, None);
        assert_eq!(held(OWNER), NAME_DEPOSIT + 3 * VERSION_DEPOSIT);
        assert_eq!(
            Records::<Test>::get(name("dataset")).map(|r| r.deposit),
            Some(NAME_DEPOSIT + 3 * VERSION_DEPOSIT)
        );
    });
}

#[test]
fn history_pages_newest_first() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        for n in 1..=MAX_VERSIONS as u8 {
            System::set_block_number(u64::from(n));
            set(OWNER, "dataset", n);
        }
        let first = Names::history(b"dataset", None, 3);
        assert_eq!(first, vec![entry(4, 4, 4), entry(3, 3, 3), entry(2, 2, 2)]);
        let next = Names::history(b"dataset", Some(first[2].version), 3);
        assert_eq!(next, vec![entry(1, 1, 1)]);
        assert!(Names::history(b"dataset", Some(1), 3).is_empty());
        assert!(Names::history(b"dataset", None, 0).is_empty());
        // A `before` past the latest is the latest page.
        assert_eq!(
            Names::history(b"dataset", Some(99), 1),
            vec![entry(4, 4, 4)]
        );
        assert!(Names::history(b"unknown", None, 10).is_empty());
        assert!(Names::history(&[b'a'; 200], None, 10).is_empty());
    });
}

#[test]
fn a_set_at_the_bound_drops_the_oldest_version_and_returns_its_deposit() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        for n in 1..=MAX_VERSIONS as u8 {
            set(OWNER, "dataset", n);
        }
        let full = NAME_DEPOSIT + u64::from(MAX_VERSIONS) * VERSION_DEPOSIT;
        assert_eq!(held(OWNER), full);
        set(OWNER, "dataset", 50);
        System::assert_has_event(RuntimeEvent::Names(Event::VersionDropped {
            name: name("dataset"),
            version: 1,
            refund: VERSION_DEPOSIT,
        }));
        // One version in, one out: the deposit held stays the same.
        assert_eq!(held(OWNER), full);
        assert_eq!(free(OWNER), ENDOWMENT - full);
        let resolved = resolve("dataset", Some(1)).unwrap();
        assert_eq!((resolved.latest, resolved.oldest), (5, 2));
        assert_eq!(resolved.entry, None, "version 1 was dropped");
        assert!(!Versions::<Test>::contains_key(name("dataset"), 1));
        // The kept versions keep their numbers.
        assert_eq!(
            resolve("dataset", Some(2)).unwrap().entry.map(|e| e.cid),
            Some(cid(2).into_inner())
        );
        assert_eq!(
            resolve("dataset", None).unwrap().entry.map(|e| e.cid),
            Some(cid(50).into_inner())
        );
        let versions: Vec<u32> = Names::history(b"dataset", None, 10)
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, vec![5, 4, 3, 2]);
    });
}

#[test]
fn transfer_moves_the_name_its_history_and_its_deposits_exactly() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        set(OWNER, "dataset", 1);
        set(OWNER, "dataset", 2);
        let deposit = NAME_DEPOSIT + 2 * VERSION_DEPOSIT;
        assert_ok!(Names::transfer(
            RuntimeOrigin::signed(OWNER),
            name("dataset"),
            OTHER
        ));
        System::assert_last_event(RuntimeEvent::Names(Event::Transferred {
            name: name("dataset"),
            from: OWNER,
            to: OTHER,
            deposit,
        }));
        // The deposits left the sender, still held, for the recipient,
        // whose free balance is untouched.
        assert_eq!((held(OWNER), free(OWNER)), (0, ENDOWMENT - deposit));
        assert_eq!(Balances::total_balance(&OWNER), ENDOWMENT - deposit);
        assert_eq!((held(OTHER), free(OTHER)), (deposit, ENDOWMENT));
        assert!(Names::names_of(&OWNER).is_empty());
        assert!(!NamesOf::<Test>::contains_key(OWNER));
        assert_eq!(Names::names_of(&OTHER), vec![name("dataset")]);
        // The history went with it.
        let resolved = resolve("dataset", None).unwrap();
        assert_eq!((resolved.owner, resolved.latest), (OTHER, 2));
        assert_eq!(Names::history(b"dataset", None, 10).len(), 2);
        // The new owner sets it; the old one no longer can.
        set(OTHER, "dataset", 3);
        assert_eq!(held(OTHER), deposit + VERSION_DEPOSIT);
        assert_noop!(
            Names::set(RuntimeOrigin::signed(OWNER), name("dataset"), cid(4)),
            Error::<Test>::NotOwner
        );
        // Releasing returns everything held for it to the new owner.
        assert_ok!(Names::release(
            RuntimeOrigin::signed(OTHER),
            name("dataset")
        ));
        assert_eq!(
            (held(OTHER), free(OTHER)),
            (0, ENDOWMENT + deposit),
            "the recipient got the deposits the sender held"
        );
    });
}

#[test]
fn release_returns_every_deposit_and_forgets_the_history() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        register(OWNER, "photos");
        for n in 1..=3 {
            set(OWNER, "dataset", n);
        }
        let result = Names::release(RuntimeOrigin::signed(OWNER), name("dataset"));
        // Charged for the three versions it removed, not `MaxVersions`.
        assert_eq!(
            result.map(|info| info.actual_weight),
            Ok(Some(<() as WeightInfo>::release(3)))
        );
        System::assert_last_event(RuntimeEvent::Names(Event::Released {
            name: name("dataset"),
            owner: OWNER,
            refund: NAME_DEPOSIT + 3 * VERSION_DEPOSIT,
        }));
        // Only the other name's deposit is still held.
        assert_eq!(held(OWNER), NAME_DEPOSIT);
        assert_eq!(free(OWNER), ENDOWMENT - NAME_DEPOSIT);
        assert_eq!(resolve("dataset", None), None);
        assert!(!Records::<Test>::contains_key(name("dataset")));
        assert_eq!(Versions::<Test>::iter_prefix(name("dataset")).count(), 0);
        assert_eq!(Names::names_of(&OWNER), vec![name("photos")]);
        assert_ok!(Names::release(RuntimeOrigin::signed(OWNER), name("photos")));
        assert_eq!((held(OWNER), free(OWNER)), (0, ENDOWMENT));
        assert!(!NamesOf::<Test>::contains_key(OWNER));
        // Anyone may take it again, with a fresh history.
        register(OTHER, "dataset");
        let again = resolve("dataset", None).unwrap();
        assert_eq!((again.owner, again.latest, again.entry), (OTHER, 0, None));
    });
}

#[test]
fn only_the_owner_may_set_transfer_or_release() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        set(OWNER, "dataset", 1);
        let signed = RuntimeOrigin::signed(OTHER);
        assert_noop!(
            Names::set(signed.clone(), name("dataset"), cid(2)),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Names::transfer(signed.clone(), name("dataset"), OTHER),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Names::release(signed, name("dataset")),
            Error::<Test>::NotOwner
        );
        assert_eq!(resolve("dataset", None).unwrap().owner, OWNER);
        assert_eq!(held(OTHER), 0);
    });
}

#[test]
fn names_follow_the_charset_and_length() {
    let longest = "a".repeat(MAX_NAME_LEN as usize);
    for good in [
        "abc",
        "a-b",
        "0x1",
        "team.data-set.v2",
        "xn--nxa",
        longest.as_str(),
    ] {
        assert!(is_valid_name(good.as_bytes()), "{good} refused");
    }
    let too_long = "a".repeat(MAX_NAME_LEN as usize + 1);
    for bad in [
        "",
        "ab",
        too_long.as_str(),
        "ABC",
        "Abc",
        "a_b",
        "a b",
        "a/b",
        "-ab",
        "ab-",
        ".ab",
        "ab.",
        "a..b",
        "añb",
    ] {
        assert!(!is_valid_name(bad.as_bytes()), "{bad} accepted");
    }
    ExtBuilder.run(|| {
        for bad in ["ab", "Abc", "a..b", "-ab", "a b"] {
            assert_noop!(
                Names::register(RuntimeOrigin::signed(OWNER), name(bad)),
                Error::<Test>::InvalidName
            );
        }
        register(OWNER, &longest);
        assert_eq!(held(OWNER), NAME_DEPOSIT);
    });
}

#[test]
fn register_refuses_a_taken_name_a_full_index_and_an_empty_account() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        for who in [OWNER, OTHER] {
            assert_noop!(
                Names::register(RuntimeOrigin::signed(who), name("dataset")),
                Error::<Test>::NameTaken
            );
        }
        for i in 1..MAX_NAMES_PER_OWNER {
            register(OWNER, &format!("name{i}"));
        }
        assert_eq!(Names::names_of(&OWNER).len(), MAX_NAMES_PER_OWNER as usize);
        assert_noop!(
            Names::register(RuntimeOrigin::signed(OWNER), name("onemore")),
            Error::<Test>::TooManyNames
        );
        assert_noop!(
            Names::register(RuntimeOrigin::signed(NOBODY), name("free")),
            TokenError::FundsUnavailable
        );
    });
}

#[test]
fn set_refuses_unknown_names_bad_cids_and_the_latest_cid_again() {
    ExtBuilder.run(|| {
        assert_noop!(
            Names::set(RuntimeOrigin::signed(OWNER), name("dataset"), cid(1)),
            Error::<Test>::UnknownName
        );
        register(OWNER, "dataset");
        let mut trailing = cid(1).into_inner();
        trailing.push(0);
        let mut truncated = cid(1).into_inner();
        truncated.pop();
        // A CIDv0 (a bare SHA-256 multihash) names no codec.
        let v0 = cid(1).into_inner()[2..].to_vec();
        for bad in [Vec::new(), vec![1, 2, 3], trailing, truncated, v0] {
            assert_noop!(
                Names::set(
                    RuntimeOrigin::signed(OWNER),
                    name("dataset"),
                    BoundedVec::truncate_from(bad)
                ),
                Error::<Test>::InvalidCid
            );
        }
        set(OWNER, "dataset", 1);
        assert_noop!(
            Names::set(RuntimeOrigin::signed(OWNER), name("dataset"), cid(1)),
            Error::<Test>::Unchanged
        );
        // Back to an earlier CID is a new version.
        set(OWNER, "dataset", 2);
        set(OWNER, "dataset", 1);
        assert_eq!(resolve("dataset", None).unwrap().latest, 3);
    });
}

#[test]
fn transfer_refuses_the_owner_a_missing_account_and_a_full_index() {
    ExtBuilder.run(|| {
        assert_noop!(
            Names::transfer(RuntimeOrigin::signed(OWNER), name("dataset"), OTHER),
            Error::<Test>::UnknownName
        );
        register(OWNER, "dataset");
        assert_noop!(
            Names::transfer(RuntimeOrigin::signed(OWNER), name("dataset"), OWNER),
            Error::<Test>::AlreadyOwner
        );
        assert_noop!(
            Names::transfer(RuntimeOrigin::signed(OWNER), name("dataset"), NOBODY),
            Error::<Test>::UnknownAccount
        );
        for i in 0..MAX_NAMES_PER_OWNER {
            register(OTHER, &format!("name{i}"));
        }
        assert_noop!(
            Names::transfer(RuntimeOrigin::signed(OWNER), name("dataset"), OTHER),
            Error::<Test>::TooManyNames
        );
    });
}

#[test]
fn the_invariant_check_catches_records_that_disagree() {
    ExtBuilder.run(|| {
        register(OWNER, "dataset");
        set(OWNER, "dataset", 1);
        assert_eq!(Names::do_try_state(), Ok(()));
        let key = name("dataset");
        let record = Records::<Test>::get(&key).unwrap();

        // A deposit recorded but not held.
        Records::<Test>::mutate(&key, |r| r.as_mut().unwrap().deposit += 1);
        assert!(Names::do_try_state().is_err());
        Records::<Test>::insert(&key, record.clone());

        // A kept version missing.
        let version = Versions::<Test>::take(&key, 1).unwrap();
        assert!(Names::do_try_state().is_err());
        Versions::<Test>::insert(&key, 1, version);

        // A name missing from its owner's index.
        let index = NamesOf::<Test>::take(OWNER);
        assert!(Names::do_try_state().is_err());
        NamesOf::<Test>::insert(OWNER, index);

        assert_eq!(Names::do_try_state(), Ok(()));
    });
}

#[test]
fn the_test_config_passes_the_integrity_test() {
    ExtBuilder.run(|| {
        <Names as Hooks<u64>>::integrity_test();
    });
}
