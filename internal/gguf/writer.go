package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Write writes f to w as GGUF v3. Tensor offsets are computed here: each
// tensor's data starts at the next multiple of the file's alignment
// (general.alignment, 32 if absent) after the previous one, and so does the
// data section itself, as ggml's gguf_write does.
func Write(w io.Writer, f *File) error {
	align, err := f.alignment()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	e := &encoder{w: bw}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		e.str(kv.Key)
		if err := e.value(kv.Value); err != nil {
			return fmt.Errorf("gguf: key %s: %w", kv.Key, err)
		}
	}
	var offset uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		size, err := t.Type.size()
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		if want := t.Elements() * uint64(size); uint64(len(t.Data)) != want {
			return fmt.Errorf("gguf: tensor %s: %d bytes of data, dims %v of %s need %d", t.Name, len(t.Data), t.Dims, t.Type, want)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offset)
		offset = alignUp(offset+uint64(len(t.Data)), align)
	}
	e.pad(align)
	for i := range f.Tensors {
		e.raw(f.Tensors[i].Data)
		e.pad(align)
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// encoder writes little-endian values and remembers the first error, so the
// layout code above reads as the format does.
type encoder struct {
	w   io.Writer
	n   uint64 // bytes written so far, for padding
	err error
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += uint64(n)
	e.err = err
}

func (e *encoder) pad(align uint64) {
	if k := alignUp(e.n, align) - e.n; k > 0 {
		e.raw(make([]byte, k))
	}
}

func (e *encoder) u32(v uint32) { e.raw(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.raw(binary.LittleEndian.AppendUint64(nil, v)) }

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

// value writes a metadata value's type tag and the value.
func (e *encoder) value(v any) error {
	if t, ok := scalarType(v); ok {
		e.u32(uint32(t))
		e.scalar(v)
		return nil
	}
	var elems []any
	var et valueType
	switch a := v.(type) {
	case []string:
		et, elems = typeString, toAny(a)
	case []bool:
		et, elems = typeBool, toAny(a)
	case []uint8:
		et, elems = typeUint8, toAny(a)
	case []int8:
		et, elems = typeInt8, toAny(a)
	case []uint16:
		et, elems = typeUint16, toAny(a)
	case []int16:
		et, elems = typeInt16, toAny(a)
	case []uint32:
		et, elems = typeUint32, toAny(a)
	case []int32:
		et, elems = typeInt32, toAny(a)
	case []uint64:
		et, elems = typeUint64, toAny(a)
	case []int64:
		et, elems = typeInt64, toAny(a)
	case []float32:
		et, elems = typeFloat32, toAny(a)
	case []float64:
		et, elems = typeFloat64, toAny(a)
	default:
		return fmt.Errorf("value of type %T not supported", v)
	}
	e.u32(uint32(typeArray))
	e.u32(uint32(et))
	e.u64(uint64(len(elems)))
	for _, x := range elems {
		e.scalar(x)
	}
	return nil
}

func toAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// scalarType maps a Go scalar to its GGUF tag.
func scalarType(v any) (valueType, bool) {
	switch v.(type) {
	case uint8:
		return typeUint8, true
	case int8:
		return typeInt8, true
	case uint16:
		return typeUint16, true
	case int16:
		return typeInt16, true
	case uint32:
		return typeUint32, true
	case int32:
		return typeInt32, true
	case float32:
		return typeFloat32, true
	case bool:
		return typeBool, true
	case string:
		return typeString, true
	case uint64:
		return typeUint64, true
	case int64:
		return typeInt64, true
	case float64:
		return typeFloat64, true
	}
	return 0, false
}

// scalar writes v without its tag; v is one of scalarType's types.
func (e *encoder) scalar(v any) {
	le := binary.LittleEndian
	switch x := v.(type) {
	case uint8:
		e.raw([]byte{x})
	case int8:
		e.raw([]byte{byte(x)})
	case uint16:
		e.raw(le.AppendUint16(nil, x))
	case int16:
		e.raw(le.AppendUint16(nil, uint16(x)))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.raw([]byte{1})
		} else {
			e.raw([]byte{0})
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	}
}
