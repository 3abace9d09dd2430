/* resume_state.h - the state a resumed upload in object storage goes on
 * from (resume_state.c). Not for other parts. */
#ifndef FTPSGATE_STORE_RESUME_STATE_H
#define FTPSGATE_STORE_RESUME_STATE_H

#include "age.h"
#include "store_int.h"

#define STORE_RESUME_STATE_MAX (22 + STORE_SHA256_STATE + 4 + AGE_STATE_MAX + 64)

/* The state of upload upload_id after offset bytes: its SHA-256 so far,
 * and its age verifier (NULL: not verified) with the key that opened it.
 * -EAGAIN: the age header is not all there yet (no state). */
int store_resume_state_save(struct store *st, int64_t upload_id, uint64_t offset,
			    const struct store_sha256 *sha, const struct age_reader *age,
			    int64_t key_id, uint8_t *out, size_t cap, size_t *len);
/* -EBADMSG: not such a state (or not sealed for this upload). */
int store_resume_state_load(struct store *st, int64_t upload_id, const uint8_t *in, size_t len,
			    uint64_t *offset, struct store_sha256 *sha, struct age_reader **age,
			    int64_t *key_id);

#endif
