#ifndef VISHWA_COPENSSL_SHIM_H
#define VISHWA_COPENSSL_SHIM_H
// ChaCha20-Poly1305 (RFC 8439) from OpenSSL's libcrypto, for bulk data only: its AVX-512 code
// runs 3-4x faster than libsodium 1.0.18's on the same bytes, with the same output. Swift sees
// only these two functions (VishwaCrypto's ChaChaPoly is the one caller).
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <openssl/evp.h>

// The cipher, fetched once: an implicit fetch on every init would look the algorithm up each
// time. NULL if OpenSSL cannot provide it (callers then use libsodium).
static inline EVP_CIPHER *vishwa_chachapoly_cipher(void) {
    static _Atomic(EVP_CIPHER *) cached;
    EVP_CIPHER *cipher = atomic_load(&cached);
    if (cipher) return cipher;
    EVP_CIPHER *fetched = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL), *expected = NULL;
    if (!fetched) return NULL;
    if (atomic_compare_exchange_strong(&cached, &expected, fetched)) return fetched;
    EVP_CIPHER_free(fetched);  // another thread was first
    return expected;
}

// Feeds `length` bytes to an AEAD update in int-sized steps (`out` NULL: additional data).
static inline int vishwa_chachapoly_update(EVP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *in, size_t length) {
    while (length > 0) {
        int step = length > INT_MAX / 2 ? INT_MAX / 2 : (int)length, written = 0;
        if (EVP_CipherUpdate(ctx, out, &written, in, step) != 1) return 0;
        if (out) out += step;
        in += step;
        length -= (size_t)step;
    }
    return 1;
}

// Encrypts `buffer` in place (or authenticates only `ad` when `length` is 0) and writes the
// 16-byte tag. Returns 1, or 0 if OpenSSL failed (no usable output).
static inline int vishwa_chachapoly_seal(const unsigned char key[32], const unsigned char nonce[12], const unsigned char *ad,
                                         size_t ad_length, unsigned char *buffer, size_t length, unsigned char tag[16]) {
    EVP_CIPHER *cipher = vishwa_chachapoly_cipher();
    EVP_CIPHER_CTX *ctx = cipher ? EVP_CIPHER_CTX_new() : NULL;
    int written = 0;
    int ok = ctx && EVP_EncryptInit_ex2(ctx, cipher, key, nonce, NULL) == 1
        && vishwa_chachapoly_update(ctx, NULL, ad, ad_length) && vishwa_chachapoly_update(ctx, buffer, buffer, length)
        && EVP_EncryptFinal_ex(ctx, buffer + length, &written) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);  // cleanses the key schedule
    return ok;
}

// Checks `tag` over `ad` and `ciphertext` and writes the plaintext to `output` (which may be
// `ciphertext`). Returns 1 if authentic; 0 if not, with `output` zeroed (OpenSSL decrypts before
// it checks the tag, and nothing unauthenticated may be left there); -1 if OpenSSL could not run
// (`output` untouched).
static inline int vishwa_chachapoly_open(const unsigned char key[32], const unsigned char nonce[12], const unsigned char *ad,
                                         size_t ad_length, const unsigned char *ciphertext, unsigned char *output, size_t length,
                                         const unsigned char tag[16]) {
    EVP_CIPHER *cipher = vishwa_chachapoly_cipher();
    EVP_CIPHER_CTX *ctx = cipher ? EVP_CIPHER_CTX_new() : NULL;
    int written = 0, result = -1;
    if (ctx && EVP_DecryptInit_ex2(ctx, cipher, key, nonce, NULL) == 1 && vishwa_chachapoly_update(ctx, NULL, ad, ad_length)
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) == 1) {
        // From here on `output` is written: a failure is a failure to open.
        result = vishwa_chachapoly_update(ctx, output, ciphertext, length)
            && EVP_DecryptFinal_ex(ctx, output + length, &written) == 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (result == 0 && length > 0) memset(output, 0, length);
    return result;
}

#endif
