package pcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// This file reads pcapng, the format of draft-ietf-opsawg-pcapng
// ("PCAP Next Generation (pcapng) Capture File Format"), which tshark and
// dumpcap write by default. A file is a sequence of blocks, each
//
//	block type (4) | block total length (4) | body | block total length (4)
//
// in the byte order of its section, which the Section Header Block's
// byte-order magic sets. The reader understands the Section Header Block
// (section 4.1), the Interface Description Block (4.2, link type and the
// if_tsresol and if_tsoffset options), the Enhanced Packet Block (4.3), the
// Simple Packet Block (4.4) and the obsolete Packet Block (appendix A); it
// skips every other block (statistics, name resolution, decryption
// secrets, custom blocks).

// Block types.
const (
	blockSHB = 0x0a0d0d0a // Section Header Block
	blockIDB = 0x00000001 // Interface Description Block
	blockPB  = 0x00000002 // Packet Block (obsolete)
	blockSPB = 0x00000003 // Simple Packet Block
	blockEPB = 0x00000006 // Enhanced Packet Block
)

// byteOrderMagic is the Section Header Block's byte-order magic.
const byteOrderMagic = 0x1a2b3c4d

// maxBlock bounds a block's length: a capture of 16 MiB frames fits, and
// a corrupt length cannot make the reader allocate gigabytes.
const maxBlock = 1<<24 + 1<<12

// Interface Description Block options.
const (
	optEnd      = 0
	optTSResol  = 9
	optTSOffset = 14
)

// ngState is what a pcapng reader knows about the current section.
type ngState struct {
	ifaces []ngIface
	// sections counts the Section Header Blocks read, for error messages.
	sections int
}

// ngIface is one interface of the current section.
type ngIface struct {
	link    LinkType
	snaplen uint32
	// Timestamps count units of 1/10^dec s (bin false) or 1/2^exp s.
	bin    bool
	exp    uint8
	offset int64 // if_tsoffset, seconds
}

// newNgReader reads the rest of the first Section Header Block, whose
// block type has been read from r.
func newNgReader(r io.Reader) (*Reader, error) {
	pr := &Reader{r: r, ng: &ngState{}}
	if err := pr.readSHB(); err != nil {
		return nil, err
	}
	return pr, nil
}

// readSHB reads a Section Header Block after its block type: the byte
// order comes from its byte-order magic, and the section starts with no
// interfaces.
func (r *Reader) readSHB() error {
	r.ng.sections++
	var h [8]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return fmt.Errorf("%w: section header %d: %v", ErrFormat, r.ng.sections, err)
	}
	switch binary.LittleEndian.Uint32(h[4:8]) {
	case byteOrderMagic:
		r.order = binary.LittleEndian
	case 0x4d3c2b1a:
		r.order = binary.BigEndian
	default:
		return fmt.Errorf("%w: section header %d: byte-order magic %#08x", ErrFormat, r.ng.sections, binary.LittleEndian.Uint32(h[4:8]))
	}
	body, err := r.blockBody(r.order.Uint32(h[0:4]), 4)
	if err != nil {
		return fmt.Errorf("section header %d: %w", r.ng.sections, err)
	}
	// major version (2), minor version (2), section length (8), options.
	if len(body) < 12 {
		return fmt.Errorf("%w: section header %d: %d bytes", ErrFormat, r.ng.sections, len(body))
	}
	if major := r.order.Uint16(body[0:2]); major != 1 {
		return fmt.Errorf("%w: section header %d: version %d.%d", ErrFormat, r.ng.sections, major, r.order.Uint16(body[2:4]))
	}
	r.ng.ifaces = r.ng.ifaces[:0]
	return nil
}

// blockBody reads the rest of a block whose total length is total and of
// which read bytes (after the type and length fields) are consumed
// already, checks the trailing length, and returns the body after those
// read bytes.
func (r *Reader) blockBody(total uint32, read int) ([]byte, error) {
	if total%4 != 0 || total < uint32(12+read) || total > maxBlock {
		return nil, fmt.Errorf("%w: block length %d", ErrFormat, total)
	}
	n := int64(total) - 8 - int64(read)
	// Read through a LimitReader so that a length beyond the end of
	// the file allocates no more than the file holds.
	b, err := io.ReadAll(io.LimitReader(r.r, n))
	if err != nil {
		return nil, fmt.Errorf("%w: block: %v", ErrTruncated, err)
	}
	if int64(len(b)) < n {
		return nil, fmt.Errorf("%w: block of %d bytes has %d", ErrTruncated, total, len(b)+8+read)
	}
	if tail := r.order.Uint32(b[len(b)-4:]); tail != total {
		return nil, fmt.Errorf("%w: block length %d, trailing length %d", ErrFormat, total, tail)
	}
	return b[:len(b)-4], nil
}

// nextNg returns the next packet of a pcapng file, skipping the blocks
// that hold none.
func (r *Reader) nextNg() (Record, error) {
	for {
		var h [8]byte
		if _, err := io.ReadFull(r.r, h[:4]); err != nil {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			return Record{}, fmt.Errorf("%w: block header after record %d: %v", ErrTruncated, r.n, err)
		}
		// The Section Header Block's type reads the same in both byte
		// orders; its length is in the byte order its magic gives.
		if binary.LittleEndian.Uint32(h[:4]) == blockSHB {
			if err := r.readSHB(); err != nil {
				return Record{}, err
			}
			continue
		}
		if _, err := io.ReadFull(r.r, h[4:]); err != nil {
			return Record{}, fmt.Errorf("%w: block header after record %d: %v", ErrTruncated, r.n, err)
		}
		typ := r.order.Uint32(h[0:4])
		body, err := r.blockBody(r.order.Uint32(h[4:8]), 0)
		if err != nil {
			return Record{}, fmt.Errorf("block type %#x after record %d: %w", typ, r.n, err)
		}
		switch typ {
		case blockIDB:
			if err := r.readIDB(body); err != nil {
				return Record{}, err
			}
		case blockEPB, blockPB, blockSPB:
			rec, err := r.packetBlock(typ, body)
			if err != nil {
				return Record{}, fmt.Errorf("record %d: %w", r.n+1, err)
			}
			r.n++
			rec.Number = r.n
			r.link = rec.LinkType
			return rec, nil
		}
		// Any other block holds no packet: skip it.
	}
}

// readIDB adds the interface an Interface Description Block describes.
func (r *Reader) readIDB(b []byte) error {
	// link type (2), reserved (2), snap length (4), options.
	if len(b) < 8 {
		return fmt.Errorf("%w: interface description of %d bytes", ErrFormat, len(b))
	}
	ifc := ngIface{
		link:    LinkType(r.order.Uint16(b[0:2])),
		snaplen: r.order.Uint32(b[4:8]),
		exp:     6, // microseconds unless if_tsresol says otherwise
	}
	err := r.options(b[8:], func(code uint16, v []byte) error {
		switch code {
		case optTSResol:
			if len(v) != 1 {
				return fmt.Errorf("%w: if_tsresol of %d bytes", ErrFormat, len(v))
			}
			ifc.bin, ifc.exp = v[0]&0x80 != 0, v[0]&0x7f
			if !ifc.bin && ifc.exp > 19 || ifc.bin && ifc.exp > 63 {
				return fmt.Errorf("%w: if_tsresol %#02x out of range", ErrFormat, v[0])
			}
		case optTSOffset:
			if len(v) != 8 {
				return fmt.Errorf("%w: if_tsoffset of %d bytes", ErrFormat, len(v))
			}
			ifc.offset = int64(r.order.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("interface %d: %w", len(r.ng.ifaces), err)
	}
	if len(r.ng.ifaces) == 0 && r.n == 0 {
		r.link = ifc.link
	}
	r.ng.ifaces = append(r.ng.ifaces, ifc)
	return nil
}

// options calls fn for each option of an option list (code (2), length
// (2), value padded to 4 bytes), up to opt_endofopt or the end of b.
func (r *Reader) options(b []byte, fn func(code uint16, v []byte) error) error {
	for len(b) >= 4 {
		code, n := r.order.Uint16(b[0:2]), int(r.order.Uint16(b[2:4]))
		if code == optEnd {
			return nil
		}
		b = b[4:]
		if n > len(b) {
			return fmt.Errorf("%w: option %d of %d bytes, %d left", ErrFormat, code, n, len(b))
		}
		if err := fn(code, b[:n]); err != nil {
			return err
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return nil
}

// packetBlock decodes an Enhanced, Simple or obsolete Packet Block.
func (r *Reader) packetBlock(typ uint32, b []byte) (Record, error) {
	var (
		ifc        int
		hi, lo     uint32
		incl, orig uint32
		data       []byte
		stamped    = true
	)
	switch typ {
	case blockEPB, blockPB:
		// EPB: interface ID (4); PB: interface ID (2), drops count
		// (2). Then timestamp high (4), low (4), captured length (4),
		// original length (4), data.
		if len(b) < 20 {
			return Record{}, fmt.Errorf("%w: packet block of %d bytes", ErrFormat, len(b))
		}
		if typ == blockEPB {
			ifc = int(r.order.Uint32(b[0:4]))
		} else {
			ifc = int(r.order.Uint16(b[0:2]))
		}
		hi, lo = r.order.Uint32(b[4:8]), r.order.Uint32(b[8:12])
		incl, orig = r.order.Uint32(b[12:16]), r.order.Uint32(b[16:20])
		if uint64(incl) > uint64(len(b)-20) {
			return Record{}, fmt.Errorf("%w: captured length %d in a block of %d bytes", ErrFormat, incl, len(b)+12)
		}
		data = b[20 : 20+incl]
	case blockSPB:
		// Original length (4), data: captured on interface 0, as much
		// as its snap length allows, no timestamp.
		if len(b) < 4 {
			return Record{}, fmt.Errorf("%w: simple packet block of %d bytes", ErrFormat, len(b))
		}
		orig, stamped = r.order.Uint32(b[0:4]), false
		data = b[4:]
		if uint64(len(data)) > uint64(orig) {
			data = data[:orig] // the rest is padding
		}
	}
	if ifc < 0 || ifc >= len(r.ng.ifaces) {
		return Record{}, fmt.Errorf("%w: interface %d of %d described", ErrFormat, ifc, len(r.ng.ifaces))
	}
	iface := r.ng.ifaces[ifc]
	if typ == blockSPB && iface.snaplen != 0 && uint64(len(data)) > uint64(iface.snaplen) {
		data = data[:iface.snaplen]
	}
	rec := Record{
		Data:      bytes.Clone(data),
		OrigLen:   max(int(orig), len(data)),
		LinkType:  iface.link,
		Interface: ifc,
	}
	if stamped {
		rec.Time = iface.time(uint64(hi)<<32 | uint64(lo))
	}
	return rec, nil
}

// time converts a timestamp of the interface's resolution to a time.
func (ifc ngIface) time(ts uint64) time.Time {
	var sec, ns uint64
	switch {
	case ifc.bin:
		sec = ts >> ifc.exp
		frac := ts & (1<<ifc.exp - 1)
		// frac / 2^exp seconds in nanoseconds: frac*1e9 >> exp, in
		// 128 bits.
		h, l := bits.Mul64(frac, 1e9)
		if ifc.exp == 0 {
			ns = 0
		} else {
			ns = h<<(64-ifc.exp) | l>>ifc.exp
		}
	default:
		unit := pow10(ifc.exp)
		sec, ns = ts/unit, ts%unit
		if ifc.exp <= 9 {
			ns *= pow10(9 - ifc.exp)
		} else {
			ns /= pow10(ifc.exp - 9)
		}
	}
	return time.Unix(int64(sec)+ifc.offset, int64(ns)).UTC()
}

// pow10 returns 10^n for n <= 19.
func pow10(n uint8) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
