package gguf

import "math"

// Float16 converts f to IEEE 754 binary16 bits, rounding to nearest even,
// as ggml's GGML_FP32_TO_FP16 does. Overflow becomes ±Inf, NaN stays NaN.
// Written here rather than imported: it is the only half-precision need.
func Float16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15: // too large for binary16
		return sign | 0x7c00
	case exp-127 >= -14: // normal in binary16
		e := uint32(exp-127+15) << 10
		m := mant >> 13
		h := e | m
		// Round to nearest, ties to even, on the 13 dropped bits; a carry
		// into the exponent is correct (it may round up to Inf).
		rest := mant & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	case exp-127 >= -25: // subnormal in binary16
		mant |= 0x800000 // the implicit leading 1
		shift := uint32(-14 - (exp - 127) + 13)
		h := mant >> shift
		rest := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	return sign // underflows to ±0
}

// Float32 converts IEEE 754 binary16 bits back to a float32, exactly.
func Float32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: the value is mant × 2^-24.
	v := float32(mant) / (1 << 24)
	if sign != 0 {
		v = -v
	}
	return v
}
