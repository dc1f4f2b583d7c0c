package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxCount bounds every count read from a file (tensors, keys, array
// lengths, string lengths), so a corrupt or hostile header cannot make the
// reader allocate without limit.
const maxCount = 1 << 28

// Read parses a whole GGUF v3 file from r, tensor data included. Metadata
// values come back as the Go types Write takes (uint32, string, []float32,
// …), so a file written by Write reads back equal.
func Read(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReader(r)}
	if m := string(d.raw(4)); d.err == nil && m != Magic {
		return nil, fmt.Errorf("gguf: bad magic %q", m)
	}
	if v := d.u32(); d.err == nil && v != Version {
		return nil, fmt.Errorf("gguf: version %d, only %d is supported", v, Version)
	}
	nt, nkv := d.count(), d.count()
	f := &File{}
	for i := uint64(0); i < nkv && d.err == nil; i++ {
		k := d.str()
		v := d.value(valueType(d.u32()))
		f.KV = append(f.KV, KV{Key: k, Value: v})
	}
	offsets := make([]uint64, 0, min(nt, 1<<12))
	for i := uint64(0); i < nt && d.err == nil; i++ {
		t := Tensor{Name: d.str()}
		nd := d.u32()
		if nd > 4 {
			return nil, fmt.Errorf("gguf: tensor %s has %d dims, ggml allows 4", t.Name, nd)
		}
		for j := uint32(0); j < nd; j++ {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = TensorType(d.u32())
		offsets = append(offsets, d.u64())
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, d.err
	}
	align, err := f.alignment()
	if err != nil {
		return nil, err
	}
	d.skip(alignUp(d.n, align) - d.n)
	base := d.n
	for i := range f.Tensors {
		t := &f.Tensors[i]
		size, err := t.Type.size()
		if err != nil {
			return nil, fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		if offsets[i]%align != 0 || base+offsets[i] < d.n {
			return nil, fmt.Errorf("gguf: tensor %s: offset %d misaligned or overlapping", t.Name, offsets[i])
		}
		n := t.Elements() * uint64(size)
		if n > maxCount*4 {
			return nil, fmt.Errorf("gguf: tensor %s too large", t.Name)
		}
		d.skip(base + offsets[i] - d.n)
		t.Data = d.raw(n)
	}
	if d.err != nil {
		return nil, d.err
	}
	return f, nil
}

// decoder reads little-endian values and remembers the first error.
type decoder struct {
	r   *bufio.Reader
	n   uint64
	err error
}

func (d *decoder) raw(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	// Large reads grow with the bytes actually there, so a lying length in
	// a short file costs nothing.
	var b []byte
	var err error
	if n <= 1<<20 {
		b = make([]byte, n)
		var k int
		k, err = io.ReadFull(d.r, b)
		b = b[:k]
	} else {
		b, err = io.ReadAll(io.LimitReader(d.r, int64(n)))
		if err == nil && uint64(len(b)) < n {
			err = io.ErrUnexpectedEOF
		}
	}
	d.n += uint64(len(b))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.err = fmt.Errorf("gguf: at byte %d: %w", d.n, err)
	}
	return b
}

func (d *decoder) skip(n uint64) { d.raw(n) }

func (d *decoder) u8() uint8 {
	if b := d.raw(1); d.err == nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.raw(2); d.err == nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.raw(4); d.err == nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.raw(8); d.err == nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) count() uint64 {
	n := d.u64()
	if d.err == nil && n > maxCount {
		d.err = fmt.Errorf("gguf: count %d at byte %d is implausible", n, d.n)
		return 0
	}
	return n
}

func (d *decoder) str() string { return string(d.raw(d.count())) }

// value reads one value of type t; arrays come back as typed slices.
func (d *decoder) value(t valueType) any {
	if t != typeArray {
		return d.scalar(t)
	}
	et, n := valueType(d.u32()), d.count()
	if d.err != nil {
		return nil
	}
	switch et {
	case typeString:
		return readSlice[string](d, et, n)
	case typeBool:
		return readSlice[bool](d, et, n)
	case typeUint8:
		return readSlice[uint8](d, et, n)
	case typeInt8:
		return readSlice[int8](d, et, n)
	case typeUint16:
		return readSlice[uint16](d, et, n)
	case typeInt16:
		return readSlice[int16](d, et, n)
	case typeUint32:
		return readSlice[uint32](d, et, n)
	case typeInt32:
		return readSlice[int32](d, et, n)
	case typeUint64:
		return readSlice[uint64](d, et, n)
	case typeInt64:
		return readSlice[int64](d, et, n)
	case typeFloat32:
		return readSlice[float32](d, et, n)
	case typeFloat64:
		return readSlice[float64](d, et, n)
	}
	d.err = fmt.Errorf("gguf: array of type %d not supported", et)
	return nil
}

func readSlice[T any](d *decoder, et valueType, n uint64) []T {
	out := make([]T, 0, min(n, 1<<16))
	for i := uint64(0); i < n && d.err == nil; i++ {
		v, _ := d.scalar(et).(T)
		out = append(out, v)
	}
	return out
}

func (d *decoder) scalar(t valueType) any {
	switch t {
	case typeUint8:
		return d.u8()
	case typeInt8:
		return int8(d.u8())
	case typeUint16:
		return d.u16()
	case typeInt16:
		return int16(d.u16())
	case typeUint32:
		return d.u32()
	case typeInt32:
		return int32(d.u32())
	case typeFloat32:
		return math.Float32frombits(d.u32())
	case typeBool:
		return d.u8() != 0
	case typeString:
		return d.str()
	case typeUint64:
		return d.u64()
	case typeInt64:
		return int64(d.u64())
	case typeFloat64:
		return math.Float64frombits(d.u64())
	}
	if d.err == nil {
		d.err = fmt.Errorf("gguf: value type %d not supported", t)
	}
	return nil
}
