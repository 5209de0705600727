//! Encryption of a file to its owner's public key.
//!
//! A fresh random [`FileKey`] encrypts the file as a stream of frames with
//! an AEAD [`CipherSuite`] (`ring`): AES-256-GCM where the CPU has AES
//! instructions, ChaCha20-Poly1305 elsewhere ([`CipherSuite::preferred`]);
//! the suite is recorded in the manifest and the order, and a reader follows
//! the record, whatever its own CPU prefers. Each frame holds [`FRAME_PAYLOAD`] plaintext
//! bytes (the last may hold fewer, even none) and becomes [`FRAME_SIZE`]
//! bytes with its tag, so frames tile segments exactly. The 96-bit nonce is
//! `[0; 3] || frame index (u64, big endian) || last flag`: a frame moved to
//! another position or a stream cut after any frame but the flagged last one
//! fails authentication (the STREAM construction of Hoang, Reyhanitabar,
//! Rogaway and Vizár). A key is used for one file only, so counter nonces
//! never repeat.
//!
//! The file key is wrapped to each reader's X25519 public key with HPKE
//! (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305) from the `hpke` crate. Sharing a file wraps the same
//! key again for another public key; the data is not touched.

use hpke::{
    aead::ChaCha20Poly1305 as HpkeAead, kdf::HkdfSha256, kem::X25519HkdfSha256, Deserializable,
    Kem as _, OpModeR, OpModeS, Serializable,
};
use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, CHACHA20_POLY1305};
use ring::rand::{SecureRandom, SystemRandom};
use scale_info::TypeInfo;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of one encrypted frame, tag included.
pub const FRAME_SIZE: usize = 64 * 1024;
/// Bytes of authentication tag per frame.
pub const TAG_SIZE: usize = 16;
/// Plaintext bytes in a full frame.
pub const FRAME_PAYLOAD: usize = FRAME_SIZE - TAG_SIZE;

/// HPKE `info`: binds wrapped keys to this use.
const WRAP_INFO: &[u8] = b"mosaic/file-key/v1";

/// Why decryption failed. Nothing is output for a frame that fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// No wrapped key opens with this secret key.
    #[error("the file key is not wrapped to this key")]
    WrongKey,
    /// A frame failed authentication: tampered, reordered, truncated, or
    /// encrypted under another key.
    #[error("frame {0} failed authentication (tampered, reordered or truncated data)")]
    Frame(u64),
    /// The ciphertext length cannot be a sequence of frames.
    #[error("ciphertext of {0} bytes is not a sequence of frames")]
    Length(u64),
}

/// The operating system's random number generator failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// Size of the ciphertext of `plaintext_len` bytes: one tag per frame, and at
/// least one (possibly empty) frame. Saturates for sizes near `u64::MAX`,
/// which no manifest admits.
pub fn ciphertext_len(plaintext_len: u64) -> u64 {
    let frames = plaintext_len.div_ceil(FRAME_PAYLOAD as u64).max(1);
    plaintext_len.saturating_add(frames * TAG_SIZE as u64)
}

/// Size of the plaintext of a ciphertext, if it is a valid frame sequence.
pub fn plaintext_len(stored: u64) -> Result<u64, DecryptError> {
    let frames = stored.div_ceil(FRAME_SIZE as u64).max(1);
    let plaintext = stored
        .checked_sub(frames * TAG_SIZE as u64)
        .ok_or(DecryptError::Length(stored))?;
    // The last frame holds at least its tag; an empty last frame is only
    // valid for the empty file.
    if ciphertext_len(plaintext) != stored {
        return Err(DecryptError::Length(stored));
    }
    Ok(plaintext)
}

/// The symmetric key of one file.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FileKey([u8; 32]);

impl core::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the key itself.
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, RandomError> {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| RandomError)?;
        Ok(FileKey(key))
    }

    /// Wraps this key so that only the holder of `recipient`'s secret can
    /// read it.
    pub fn wrap(&self, recipient: &PublicKey) -> WrappedKey {
        let public = recipient.hpke();
        let (encapped, sealed) = hpke::single_shot_seal::<HpkeAead, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &public,
            WRAP_INFO,
            &self.0,
            &[],
        )
        .expect("encapsulation to a valid X25519 point cannot fail; qed");
        WrappedKey {
            recipient: *recipient,
            encapped_key: encapped.to_bytes().into(),
            sealed_key: sealed
                .try_into()
                .expect("a 32-byte key seals to 48 bytes; qed"),
        }
    }

    /// A frame encryptor with this key under `suite`.
    pub fn cipher(&self, suite: CipherSuite) -> FrameCipher {
        let algorithm = match suite {
            CipherSuite::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            CipherSuite::Aes256Gcm => &AES_256_GCM,
        };
        FrameCipher {
            key: LessSafeKey::new(
                UnboundKey::new(algorithm, &self.0).expect("both suites take 32-byte keys; qed"),
            ),
        }
    }
}

/// A secret X25519 key that files are encrypted to.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

/// The public half of a [`SecretKey`].
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct PublicKey(pub [u8; 32]);

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

impl PublicKey {
    fn hpke(&self) -> <X25519HkdfSha256 as hpke::Kem>::PublicKey {
        <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&self.0)
            .expect("every 32-byte string is an X25519 public key; qed")
    }
}

impl SecretKey {
    /// Derives the key deterministically from 32 bytes of secret seed
    /// (HPKE's `DeriveKeyPair`), so one account seed yields one encryption key.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let (secret, _) = X25519HkdfSha256::derive_keypair(seed);
        SecretKey(secret.to_bytes().into())
    }

    fn hpke(&self) -> <X25519HkdfSha256 as hpke::Kem>::PrivateKey {
        <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&self.0)
            .expect("every 32-byte string is an X25519 secret key; qed")
    }

    /// The public key to encrypt to.
    pub fn public(&self) -> PublicKey {
        let public = X25519HkdfSha256::sk_to_pk(&self.hpke());
        PublicKey(public.to_bytes().into())
    }

    /// Opens the first of `wrapped` addressed to this key.
    pub fn unwrap(&self, wrapped: &[WrappedKey]) -> Result<FileKey, DecryptError> {
        let me = self.public();
        wrapped
            .iter()
            .filter(|w| w.recipient == me)
            .find_map(|w| w.open(self))
            .ok_or(DecryptError::WrongKey)
    }
}

/// How an object's frames are encrypted: recorded with the order, so that a
/// reader knows what to decrypt with before touching a byte.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
pub enum CipherSuite {
    /// ChaCha20-Poly1305 frames (the STREAM construction above), file keys
    /// wrapped with HPKE (DHKEM(X25519, HKDF-SHA256), ChaCha20-Poly1305).
    #[codec(index = 0)]
    ChaCha20Poly1305,
    /// AES-256-GCM frames (the same STREAM construction and nonces), file
    /// keys wrapped as for [`ChaCha20Poly1305`](Self::ChaCha20Poly1305).
    #[codec(index = 1)]
    Aes256Gcm,
}

impl CipherSuite {
    /// Every suite, in the order of preference on a CPU with AES instructions.
    pub const ALL: [CipherSuite; 2] = [CipherSuite::Aes256Gcm, CipherSuite::ChaCha20Poly1305];

    /// The suite to encrypt with on this machine: AES-256-GCM when the CPU
    /// has AES and carry-less multiplication instructions (ring then runs it
    /// about three times as fast as ChaCha20-Poly1305), ChaCha20-Poly1305
    /// otherwise (it is faster than AES in software, and constant-time).
    pub fn preferred() -> Self {
        if hardware_aes() {
            CipherSuite::Aes256Gcm
        } else {
            CipherSuite::ChaCha20Poly1305
        }
    }

    /// The suite's name, as the CLI takes and prints it.
    pub fn name(self) -> &'static str {
        match self {
            CipherSuite::ChaCha20Poly1305 => "chacha20-poly1305",
            CipherSuite::Aes256Gcm => "aes-256-gcm",
        }
    }
}

impl core::fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`CipherSuite`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown cipher suite {0:?}; choose aes-256-gcm or chacha20-poly1305")]
pub struct UnknownSuite(pub String);

impl core::str::FromStr for CipherSuite {
    type Err = UnknownSuite;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CipherSuite::ALL
            .into_iter()
            .find(|suite| suite.name() == name)
            .ok_or_else(|| UnknownSuite(name.to_string()))
    }
}

/// Whether the CPU runs AES-GCM in hardware (AES rounds and the carry-less
/// multiplication GHASH needs), as ring would use it.
fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// How an encrypted object is encrypted: its frames' suite and its file key
/// wrapped to each reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encryption {
    /// The frames' cipher suite.
    pub suite: CipherSuite,
    /// The file key wrapped to each reader.
    pub recipients: Vec<WrappedKey>,
}

/// A file key sealed to one recipient.
#[derive(
    Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct WrappedKey {
    /// Whom the key is wrapped to.
    pub recipient: PublicKey,
    /// HPKE encapsulated key.
    pub encapped_key: [u8; 32],
    /// The file key sealed with the HPKE context, tag included.
    pub sealed_key: [u8; 48],
}

impl WrappedKey {
    fn open(&self, secret: &SecretKey) -> Option<FileKey> {
        let encapped =
            <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&self.encapped_key).ok()?;
        let key = hpke::single_shot_open::<HpkeAead, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &secret.hpke(),
            &encapped,
            WRAP_INFO,
            &self.sealed_key,
            &[],
        )
        .ok()?;
        Some(FileKey(key.try_into().ok()?))
    }
}

/// Encrypts and decrypts frames of one file.
pub struct FrameCipher {
    key: LessSafeKey,
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

impl FrameCipher {
    /// Encrypts in place frames `first_frame..` of the file, laid out at
    /// `FRAME_SIZE` strides: frame `i`'s plaintext starts at
    /// `buf[i * FRAME_SIZE]` and is `FRAME_PAYLOAD` bytes, except that the
    /// final frame may be shorter; `plaintext_len` bytes in all. Each tag is
    /// written right after its frame's plaintext, so `buf` then starts with
    /// the contiguous ciphertext, whose length is returned. `last` marks the
    /// file's final frame: only that frame may be short (or empty).
    ///
    /// Reading input straight into this layout spares a copy per byte.
    pub fn encrypt(
        &self,
        first_frame: u64,
        buf: &mut [u8],
        plaintext_len: usize,
        last: bool,
    ) -> usize {
        let frames = plaintext_len.div_ceil(FRAME_PAYLOAD).max(1);
        for i in 0..frames {
            let start = i * FRAME_SIZE;
            let len = (plaintext_len - i * FRAME_PAYLOAD).min(FRAME_PAYLOAD);
            debug_assert!(last || len == FRAME_PAYLOAD);
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    nonce(first_frame + i as u64, last && i + 1 == frames),
                    Aad::empty(),
                    &mut buf[start..start + len],
                )
                .expect("a frame is far below ChaCha20's length limit; qed");
            buf[start + len..start + len + TAG_SIZE].copy_from_slice(tag.as_ref());
        }
        (frames - 1) * FRAME_SIZE + (plaintext_len - (frames - 1) * FRAME_PAYLOAD) + TAG_SIZE
    }

    /// Decrypts `ciphertext`, the frames `first_frame..` of the file, in
    /// place, and returns the plaintext length (the plaintext is the prefix of
    /// `ciphertext`). `last` says that the file's final frame is among them.
    pub fn decrypt(
        &self,
        first_frame: u64,
        ciphertext: &mut [u8],
        last: bool,
    ) -> Result<usize, DecryptError> {
        let frames = ciphertext.len().div_ceil(FRAME_SIZE).max(1);
        if ciphertext.len() < TAG_SIZE || (!last && !ciphertext.len().is_multiple_of(FRAME_SIZE)) {
            return Err(DecryptError::Length(ciphertext.len() as u64));
        }
        let mut written = 0;
        for i in 0..frames {
            let start = i * FRAME_SIZE;
            let end = ciphertext.len().min(start + FRAME_SIZE);
            if end - start < TAG_SIZE {
                return Err(DecryptError::Length(ciphertext.len() as u64));
            }
            let index = first_frame + i as u64;
            let plain = self
                .key
                .open_in_place(
                    nonce(index, last && i + 1 == frames),
                    Aad::empty(),
                    &mut ciphertext[start..end],
                )
                .map_err(|_| DecryptError::Frame(index))?
                .len();
            ciphertext.copy_within(start..start + plain, written);
            written += plain;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encrypt_all(key: &FileKey, suite: CipherSuite, plaintext: &[u8]) -> Vec<u8> {
        let frames = plaintext.len().div_ceil(FRAME_PAYLOAD).max(1);
        let mut buf = vec![0u8; frames * FRAME_SIZE];
        for (i, chunk) in plaintext.chunks(FRAME_PAYLOAD).enumerate() {
            buf[i * FRAME_SIZE..][..chunk.len()].copy_from_slice(chunk);
        }
        let len = key
            .cipher(suite)
            .encrypt(0, &mut buf, plaintext.len(), true);
        buf.truncate(len);
        buf
    }

    fn decrypt_all(
        key: &FileKey,
        suite: CipherSuite,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let mut buf = ciphertext.to_vec();
        let len = key.cipher(suite).decrypt(0, &mut buf, true)?;
        buf.truncate(len);
        Ok(buf)
    }

    #[test]
    fn round_trips_at_frame_edges() {
        let key = FileKey::generate().unwrap();
        for suite in CipherSuite::ALL {
            for len in [
                0,
                1,
                FRAME_PAYLOAD - 1,
                FRAME_PAYLOAD,
                FRAME_PAYLOAD + 1,
                3 * FRAME_PAYLOAD,
                5 * FRAME_PAYLOAD + 77,
            ] {
                let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
                let ciphertext = encrypt_all(&key, suite, &plaintext);
                assert_eq!(ciphertext.len() as u64, ciphertext_len(len as u64));
                assert_eq!(plaintext_len(ciphertext.len() as u64), Ok(len as u64));
                assert_eq!(decrypt_all(&key, suite, &ciphertext).unwrap(), plaintext);
            }
        }
    }

    /// Opens one frame with RustCrypto's implementation of `suite`.
    fn open_independently(
        key: &FileKey,
        suite: CipherSuite,
        nonce: [u8; 12],
        frame: &[u8],
    ) -> Option<Vec<u8>> {
        match suite {
            CipherSuite::Aes256Gcm => {
                use aes_gcm::aead::{Aead, KeyInit};
                let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key.0).ok()?;
                cipher
                    .decrypt(aes_gcm::Nonce::from_slice(&nonce), frame)
                    .ok()
            }
            CipherSuite::ChaCha20Poly1305 => {
                use chacha20poly1305::aead::{Aead, KeyInit};
                let cipher = chacha20poly1305::ChaCha20Poly1305::new(&key.0.into());
                cipher.decrypt(&nonce.into(), frame).ok()
            }
        }
    }

    /// Frames are plain AEAD messages with the documented nonces: RustCrypto's
    /// independent implementations of both suites open them.
    #[test]
    fn frames_open_with_an_independent_implementation() {
        let key = FileKey::generate().unwrap();
        let plaintext: Vec<u8> = (0..FRAME_PAYLOAD + 100).map(|i| i as u8).collect();
        for suite in CipherSuite::ALL {
            let ciphertext = encrypt_all(&key, suite, &plaintext);
            let mut opened = Vec::new();
            for (index, frame) in ciphertext.chunks(FRAME_SIZE).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[3..11].copy_from_slice(&(index as u64).to_be_bytes());
                nonce[11] = u8::from(index == 1);
                let part = open_independently(&key, suite, nonce, frame);
                opened.extend(part.unwrap_or_else(|| panic!("{suite}: frame {index}")));
            }
            assert_eq!(opened, plaintext, "{suite}");
        }
    }

    #[test]
    fn a_frame_opens_only_under_its_own_suite() {
        let key = FileKey::generate().unwrap();
        let aes = encrypt_all(&key, CipherSuite::Aes256Gcm, b"frames");
        let chacha = encrypt_all(&key, CipherSuite::ChaCha20Poly1305, b"frames");
        assert_ne!(aes, chacha);
        for (ciphertext, other) in [
            (&aes, CipherSuite::ChaCha20Poly1305),
            (&chacha, CipherSuite::Aes256Gcm),
        ] {
            assert_eq!(
                decrypt_all(&key, other, ciphertext),
                Err(DecryptError::Frame(0))
            );
        }
    }

    #[test]
    fn suites_are_named_for_the_command_line() {
        for suite in CipherSuite::ALL {
            assert_eq!(suite.name().parse(), Ok(suite));
            assert_eq!(suite.to_string(), suite.name());
        }
        assert_eq!(
            "aes-128-gcm".parse::<CipherSuite>(),
            Err(UnknownSuite("aes-128-gcm".into()))
        );
        // The SCALE indices are what orders and manifests carry: fixed.
        assert_eq!(CipherSuite::ChaCha20Poly1305.encode(), [0]);
        assert_eq!(CipherSuite::Aes256Gcm.encode(), [1]);
    }

    #[test]
    fn impossible_ciphertext_lengths_are_rejected() {
        for bad in [0, 15, FRAME_SIZE as u64 + 3] {
            assert_eq!(plaintext_len(bad), Err(DecryptError::Length(bad)));
        }
    }

    #[test]
    fn reordered_truncated_and_foreign_frames_fail() {
        let key = FileKey::generate().unwrap();
        let other = FileKey::generate().unwrap();
        let plaintext = vec![5u8; 3 * FRAME_PAYLOAD + 10];
        for suite in CipherSuite::ALL {
            let ciphertext = encrypt_all(&key, suite, &plaintext);

            let mut swapped = ciphertext.clone();
            let (a, b) = swapped.split_at_mut(FRAME_SIZE);
            a.swap_with_slice(&mut b[..FRAME_SIZE]);
            let swapped = decrypt_all(&key, suite, &swapped);
            assert_eq!(swapped, Err(DecryptError::Frame(0)));

            // Cut at a frame boundary: the new final frame is not flagged last.
            let cut = decrypt_all(&key, suite, &ciphertext[..3 * FRAME_SIZE]);
            assert_eq!(cut, Err(DecryptError::Frame(2)));

            let foreign = decrypt_all(&other, suite, &ciphertext);
            assert_eq!(foreign, Err(DecryptError::Frame(0)));
        }
    }

    #[test]
    fn wrapped_keys_open_only_for_their_recipients() {
        let owner = SecretKey::from_seed(&[1; 32]);
        let friend = SecretKey::from_seed(&[2; 32]);
        let stranger = SecretKey::from_seed(&[3; 32]);
        let key = FileKey::generate().unwrap();
        let suite = CipherSuite::preferred();
        let ciphertext = encrypt_all(&key, suite, b"shared secret");

        let mut wrapped = vec![key.wrap(&owner.public())];
        assert_eq!(friend.unwrap(&wrapped).err(), Some(DecryptError::WrongKey));
        // Sharing: the owner unwraps and wraps again, the data stays as it is.
        wrapped.push(owner.unwrap(&wrapped).unwrap().wrap(&friend.public()));
        for reader in [&owner, &friend] {
            let key = reader.unwrap(&wrapped).unwrap();
            let opened = decrypt_all(&key, suite, &ciphertext).unwrap();
            assert_eq!(opened, b"shared secret");
        }
        assert_eq!(
            stranger.unwrap(&wrapped).err(),
            Some(DecryptError::WrongKey)
        );

        // A wrapped key relabelled to another recipient does not open.
        let mut forged = wrapped[0].clone();
        forged.recipient = stranger.public();
        assert_eq!(
            stranger.unwrap(&[forged]).err(),
            Some(DecryptError::WrongKey)
        );
    }

    #[test]
    fn seeds_derive_stable_distinct_keys() {
        assert_eq!(
            SecretKey::from_seed(&[1; 32]).public(),
            SecretKey::from_seed(&[1; 32]).public()
        );
        assert_ne!(
            SecretKey::from_seed(&[1; 32]).public(),
            SecretKey::from_seed(&[2; 32]).public()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_flipped_bit_is_rejected(
            len in 0usize..3 * FRAME_PAYLOAD,
            at in any::<prop::sample::Index>(),
            bit in 0u8..8,
            suite in prop::sample::select(CipherSuite::ALL.to_vec()),
        ) {
            let key = FileKey::generate().unwrap();
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut ciphertext = encrypt_all(&key, suite, &plaintext);
            prop_assert_eq!(&decrypt_all(&key, suite, &ciphertext).unwrap(), &plaintext);
            let i = at.index(ciphertext.len());
            ciphertext[i] ^= 1 << bit;
            prop_assert_eq!(
                decrypt_all(&key, suite, &ciphertext),
                Err(DecryptError::Frame((i / FRAME_SIZE) as u64))
            );
        }
    }
}
