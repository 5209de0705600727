//! Benchmarks of the names pallet's calls, each at its worst case: names of
//! the longest length; the owner's index one short of full where a name
//! joins it (`register`, the recipient of `transfer`) and full where one
//! leaves it (the sender of `transfer`, `release`: the whole list is read,
//! searched and written); a history of `MaxVersions` for `set`, which then
//! drops the oldest version, and of up to `MaxVersions` for `release`,
//! which removes each one.

use super::*;
use frame_support::traits::fungible::Mutate;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::{Bounded, Get, StaticLookup};

/// Name number `i`, as long as a name may be.
fn long_name(i: u32) -> Name {
    let mut bytes = vec![b'n'; MAX_NAME_LEN as usize];
    bytes[..10].copy_from_slice(format!("{i:010}").as_bytes());
    Name::truncate_from(bytes)
}

/// The CID of a small public object numbered `i`.
fn cid<T: Config>(i: u32) -> CidOf<T> {
    BoundedVec::truncate_from(mosaic_primitives::unixfs::file_cid(&i.to_le_bytes()).to_bytes())
}

/// Gives `who` far more than any deposit, far from overflowing total
/// issuance.
fn fund<T: Config>(who: &T::AccountId) {
    T::Currency::set_balance(who, BalanceOf::<T>::max_value() / 64u32.into());
}

/// Registers names `from..from + count` to `who`.
fn names<T: Config>(who: &T::AccountId, from: u32, count: u32) {
    for i in from..from + count {
        Pallet::<T>::register(RawOrigin::Signed(who.clone()).into(), long_name(i))
            .expect("a funded account with room registers a free, valid name; qed");
    }
}

/// Sets `versions` versions of `name`, owned by `who`.
fn versions<T: Config>(who: &T::AccountId, name: &Name, versions: u32) {
    for v in 0..versions {
        Pallet::<T>::set(
            RawOrigin::Signed(who.clone()).into(),
            name.clone(),
            cid::<T>(v),
        )
        .expect("the owner sets a valid CID that differs from the last; qed");
    }
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn register() {
        let caller: T::AccountId = whitelisted_caller();
        fund::<T>(&caller);
        names::<T>(&caller, 1, T::MaxNamesPerOwner::get() - 1);
        let name = long_name(0);
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()), name.clone());
        assert_eq!(
            Records::<T>::get(&name).map(|r| r.owner),
            Some(caller.clone())
        );
        assert_eq!(
            NamesOf::<T>::get(&caller).len() as u32,
            T::MaxNamesPerOwner::get()
        );
    }

    #[benchmark]
    fn set() {
        let caller: T::AccountId = whitelisted_caller();
        fund::<T>(&caller);
        names::<T>(&caller, 0, 1);
        let name = long_name(0);
        let max = T::MaxVersions::get();
        versions::<T>(&caller, &name, max);
        #[extrinsic_call]
        _(RawOrigin::Signed(caller), name.clone(), cid::<T>(max));
        let record = Records::<T>::get(&name).expect("still registered; qed");
        assert_eq!((record.latest, record.kept), (max + 1, max));
        assert!(
            !Versions::<T>::contains_key(&name, 1),
            "the oldest is dropped"
        );
    }

    #[benchmark]
    fn transfer() {
        let caller: T::AccountId = whitelisted_caller();
        let to: T::AccountId = account("recipient", 0, 0);
        let most = T::MaxNamesPerOwner::get();
        fund::<T>(&caller);
        fund::<T>(&to);
        names::<T>(&caller, 0, most);
        names::<T>(&to, most, most - 1);
        let name = long_name(0);
        versions::<T>(&caller, &name, T::MaxVersions::get());
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            name.clone(),
            T::Lookup::unlookup(to.clone()),
        );
        assert_eq!(Records::<T>::get(&name).map(|r| r.owner), Some(to.clone()));
        assert_eq!(NamesOf::<T>::get(&to).len() as u32, most);
    }

    #[benchmark]
    fn release(v: Linear<0, { T::MaxVersions::get() }>) {
        let caller: T::AccountId = whitelisted_caller();
        fund::<T>(&caller);
        names::<T>(&caller, 0, T::MaxNamesPerOwner::get());
        let name = long_name(0);
        versions::<T>(&caller, &name, v);
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()), name.clone());
        assert!(!Records::<T>::contains_key(&name));
        assert_eq!(Versions::<T>::iter_prefix(&name).count(), 0);
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
