// Package gguf reads and writes GGUF v3 files, the model format of llama.cpp
// and Ollama: a header, key/value metadata, tensor descriptions, then the
// tensor data, each tensor aligned.
//
//	"GGUF" u32 version=3 | u64 n_tensors | u64 n_kv
//	n_kv × (string key, u32 value type, value)
//	n_tensors × (string name, u32 n_dims, n_dims × u64 dim, u32 type, u64 offset)
//	padding to Alignment | tensor data, each at its offset (a multiple of Alignment)
//
// All integers are little-endian; a string is a u64 length and its bytes.
// The format is documented in ggml's docs/gguf.md. Only what a model
// generator and its tests need is here: the writer takes Go values for the
// metadata, and the reader gives them back as the same Go types.
package gguf

import "fmt"

// Magic opens every GGUF file.
const Magic = "GGUF"

// Version is the GGUF version this package writes and reads.
const Version = 3

// DefaultAlignment is the tensor data alignment when general.alignment is
// absent; we always write it explicitly so readers need not assume.
const DefaultAlignment = 32

// valueType is a metadata value's type tag on the wire.
type valueType uint32

const (
	typeUint8   valueType = 0
	typeInt8    valueType = 1
	typeUint16  valueType = 2
	typeInt16   valueType = 3
	typeUint32  valueType = 4
	typeInt32   valueType = 5
	typeFloat32 valueType = 6
	typeBool    valueType = 7
	typeString  valueType = 8
	typeArray   valueType = 9
	typeUint64  valueType = 10
	typeInt64   valueType = 11
	typeFloat64 valueType = 12
)

// TensorType is ggml's element type of a tensor. Only the unquantised types
// a random test model needs are named.
type TensorType uint32

const (
	F32 TensorType = 0
	F16 TensorType = 1
)

// size returns the bytes per element.
func (t TensorType) size() (int, error) {
	switch t {
	case F32:
		return 4, nil
	case F16:
		return 2, nil
	}
	return 0, fmt.Errorf("gguf: tensor type %d not supported", t)
}

func (t TensorType) String() string {
	switch t {
	case F32:
		return "F32"
	case F16:
		return "F16"
	}
	return fmt.Sprintf("type%d", uint32(t))
}

// KV is one metadata entry. Value is one of: string, bool, uint8, int8,
// uint16, int16, uint32, int32, uint64, int64, float32, float64, or a slice
// of one of those ([]string, []float32, []int32, …).
type KV struct {
	Key   string
	Value any
}

// Tensor is one named tensor. Dims are in ggml order: Dims[0] is the length
// of a row (the fastest-varying index), so a matrix mapping n inputs to m
// outputs is {n, m}. Data holds the elements, little-endian, in Type.
type Tensor struct {
	Name string
	Dims []uint64
	Type TensorType
	Data []byte
}

// Elements returns the number of elements, the product of Dims.
func (t *Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a whole GGUF file: metadata in order, then tensors in order.
type File struct {
	KV      []KV
	Tensors []Tensor
}

// Get returns the value of key and whether it is present.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the tensor called name, or nil.
func (f *File) Tensor(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// alignment returns general.alignment, or the default.
func (f *File) alignment() (uint64, error) {
	v, ok := f.Get("general.alignment")
	if !ok {
		return DefaultAlignment, nil
	}
	a, ok := v.(uint32)
	if !ok || a == 0 || a%8 != 0 {
		return 0, fmt.Errorf("gguf: general.alignment must be a non-zero uint32 multiple of 8, got %#v", v)
	}
	return uint64(a), nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
