/* SPDX-License-Identifier: MIT */
/*
 * The message protocol Linux (tests/linux-guest/guest-init.c, on /dev/hvc0) and the bare-metal
 * peer (tests/el2/guests/chan-peer.c) speak over the inter-partition channel: frames on a byte
 * stream, every byte of which both ends can predict and check. Only <stdint.h>.
 *
 * A frame is an 8-byte header (CHAN_FRAME_MAGIC, the type, the payload length as 16 bits and a
 * sequence number as 32 bits, little endian) and the payload:
 *   'S' sync, Linux -> peer: payload 8 bytes of nonce; a new session starts (the peer drops what
 *       it was parsing). Peer -> Linux: the same nonce back, seq = the number of the next
 *       heartbeat. Linux ignores everything before it (bytes that waited in the channel, and
 *       its tty may have echoed some before it set raw mode).
 *   'Q' request, Linux -> peer, seq 0, 1, 2...: chan_req_len(seq) bytes of chan_req_byte().
 *   'R' reply, peer -> Linux, the same seq and length: chan_reply_byte() of each request byte.
 *   'H' heartbeat, peer -> Linux, seq 0, 1, 2... (never skipped: a beat waits while the channel
 *       is full): payload the peer's CNTVCT when it was made, 8 bytes.
 *   'D' done, Linux -> peer: seq = the number of requests Linux sent and checked.
 */
#ifndef CHAN_PROTO_H
#define CHAN_PROTO_H

#include <stdint.h>

#define CHAN_FRAME_MAGIC 0xc5u
#define CHAN_HDR 8u
#define CHAN_MAX_PAYLOAD 64u
#define CHAN_FRAME_MAX (CHAN_HDR + CHAN_MAX_PAYLOAD)
#define CHAN_T_SYNC 'S'
#define CHAN_T_REQ 'Q'
#define CHAN_T_REPLY 'R'
#define CHAN_T_BEAT 'H'
#define CHAN_T_DONE 'D'

static inline uint32_t chan_req_len(uint32_t seq)
{
	return 1 + (seq * 13u + (seq >> 5)) % CHAN_MAX_PAYLOAD;
}

static inline uint8_t chan_req_byte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 31u + i * 7u + (seq >> 8) * 3u + 0x3cu);
}

static inline uint8_t chan_reply_byte(uint32_t seq, uint32_t i, uint8_t b)
{
	return (uint8_t)(~b + i + (seq & 0xffu));
}

static inline void chan_put_hdr(uint8_t *p, uint8_t type, uint32_t len, uint32_t seq)
{
	p[0] = CHAN_FRAME_MAGIC;
	p[1] = type;
	p[2] = (uint8_t)len;
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)seq;
	p[5] = (uint8_t)(seq >> 8);
	p[6] = (uint8_t)(seq >> 16);
	p[7] = (uint8_t)(seq >> 24);
}

static inline uint32_t chan_get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif /* CHAN_PROTO_H */
