package schema

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Numbers and booleans are decoded here rather than by yaml.v3, which truncates a decimal
// written into an integer field (`size: 9.5` became 9), reads `033` as octal 27, stores 1e39
// into a float32 as +Inf and takes YAML 1.1's yes/no/on/off as booleans. The rules:
//
//   - An integer field takes an integer literal only (decimal, 0x, 0o, 0b, with optional `_`
//     separators), within its Go type's range. A decimal point or exponent is an error even
//     when the value is whole (9.0, 1e3): the file should say what the run uses.
//   - A number field takes an integer or a decimal literal that is finite in its Go type.
//   - A decimal written with a leading zero (033) is ambiguous (YAML 1.1 octal) and an error.
//   - A boolean field takes true or false.
//
// A null value (`size: ~` or `size:`) leaves the zero value, as before.

// isScalarKind reports whether values of kind k are decoded by decodeScalar.
func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool:
		return true
	}
	return false
}

// DecodeScalar decodes a number or boolean node into out (a pointer to an integer, float or
// bool) with the rules above, for Decoders that take single values out of a mapping. The
// error names path and the node's line.
func DecodeScalar(node *yaml.Node, out any, path string) Errors {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || !isScalarKind(v.Elem().Kind()) {
		panic(fmt.Sprintf("schema.DecodeScalar: out must point to a number or bool, got %T", out))
	}
	if msg := decodeScalar(node, v.Elem()); msg != "" {
		return Errors{{Path: path, Line: lineOf(node), Msg: msg}}
	}
	return nil
}

// decodeScalarList decodes a sequence node into a slice of numbers or booleans, locating a
// bad element by its index.
func decodeScalarList(node *yaml.Node, v reflect.Value, path string, errs *Errors) {
	if node.Kind != yaml.SequenceNode {
		if isNull(node) {
			v.SetZero()
			return
		}
		*errs = append(*errs, &FieldError{path, node.Line, "must be " + friendlyType(v.Type())})
		return
	}
	out := reflect.MakeSlice(v.Type(), len(node.Content), len(node.Content))
	bad := false
	for i, item := range node.Content {
		if msg := decodeScalar(item, out.Index(i)); msg != "" {
			*errs = append(*errs, &FieldError{fmt.Sprintf("%s[%d]", path, i), item.Line, msg})
			bad = true
		}
	}
	if !bad {
		v.Set(out)
	}
}

// decodeScalar decodes node into v (a number or bool) and returns "" or what is wrong.
func decodeScalar(node *yaml.Node, v reflect.Value) string {
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if isNull(node) {
		v.SetZero()
		return ""
	}
	if node.Kind != yaml.ScalarNode {
		return "must be " + friendlyType(v.Type()) + ", got a " + kindName(node.Kind)
	}
	switch v.Kind() {
	case reflect.Bool:
		if node.ShortTag() != "!!bool" {
			return "must be true or false, got " + shown(node)
		}
		var b bool
		if err := node.Decode(&b); err != nil {
			return "must be true or false, got " + shown(node)
		}
		v.SetBool(b)
	case reflect.Float32, reflect.Float64:
		return decodeFloat(node, v)
	default:
		return decodeInt(node, v)
	}
	return ""
}

// integerLiteral parses a plain scalar written as an integer, of any size; ok is false when
// the text is not an integer literal.
func integerLiteral(node *yaml.Node) (n *big.Int, leadingZero, ok bool) {
	if node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 ||
		(node.ShortTag() != "!!int" && node.ShortTag() != "!!float") { // an explicit !!str, or not a number
		return nil, false, false
	}
	text := strings.ReplaceAll(node.Value, "_", "")
	if digits := strings.TrimLeft(text, "+-"); len(digits) > 1 && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9' {
		_, isNum := new(big.Int).SetString(digits, 10)
		return nil, isNum, isNum
	}
	n, ok = new(big.Int).SetString(text, 0)
	return n, false, ok
}

func decodeInt(node *yaml.Node, v reflect.Value) string {
	n, leadingZero, ok := integerLiteral(node)
	switch {
	case !ok:
		return "must be an integer, got " + shown(node)
	case leadingZero:
		return fmt.Sprintf("%s has a leading zero, which YAML 1.1 reads as octal: write it without the zero, or 0o%s for octal",
			node.Value, strings.TrimLeft(strings.TrimLeft(node.Value, "+-"), "0"))
	}
	lo, hi := intRange(v.Type())
	if n.Cmp(lo) < 0 || n.Cmp(hi) > 0 {
		return fmt.Sprintf("%s is out of range [%s, %s]", node.Value, lo, hi)
	}
	if n.Sign() < 0 || v.Kind() < reflect.Uint {
		v.SetInt(n.Int64())
	} else {
		v.SetUint(n.Uint64())
	}
	return ""
}

// intRange is the range of an integer type.
func intRange(t reflect.Type) (lo, hi *big.Int) {
	bits := uint(t.Bits())
	one := big.NewInt(1)
	if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr {
		return new(big.Int), new(big.Int).Sub(new(big.Int).Lsh(one, bits), one)
	}
	hi = new(big.Int).Sub(new(big.Int).Lsh(one, bits-1), one)
	return new(big.Int).Neg(new(big.Int).Add(hi, one)), hi
}

func decodeFloat(node *yaml.Node, v reflect.Value) string {
	var f float64
	if n, leadingZero, ok := integerLiteral(node); ok {
		if leadingZero {
			return fmt.Sprintf("%s has a leading zero, which YAML 1.1 reads as octal: write it without the zero", node.Value)
		}
		if f, _ = new(big.Float).SetInt(n).Float64(); math.IsInf(f, 0) {
			return fmt.Sprintf("%s is out of range for a 64-bit number (magnitude at most %g)", node.Value, math.MaxFloat64)
		}
	} else {
		tag := node.ShortTag()
		if tag == "!!str" && node.Style == 0 {
			if _, err := strconv.ParseFloat(strings.ReplaceAll(node.Value, "_", ""), 64); errors.Is(err, strconv.ErrRange) {
				return fmt.Sprintf("%s is out of range for a 64-bit number (magnitude at most %g)", node.Value, math.MaxFloat64)
			}
		}
		if tag != "!!float" || node.Decode(&f) != nil {
			return "must be a number, got " + shown(node)
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "must be a finite number, got " + node.Value
	}
	if v.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32 {
		return fmt.Sprintf("%s is out of range for a 32-bit number (magnitude at most %g)", node.Value, math.MaxFloat32)
	}
	v.SetFloat(f)
	return ""
}

// shown quotes a string value and writes others as they appear.
func shown(node *yaml.Node) string {
	if node.ShortTag() == "!!str" {
		return strconv.Quote(node.Value)
	}
	return node.Value
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
