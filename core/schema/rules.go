package schema

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// rule checks one field value; present says whether the key was written in the document.
// It returns "" when the value passes, else the message for the user.
type rule struct {
	check func(v reflect.Value, present bool) string
}

// parseRules turns a check tag into rules. A malformed tag is a programmer error and panics
// at first use, which the package tests exercise for every registered config.
func parseRules(tag string, t reflect.Type) []rule {
	if tag == "" {
		return nil
	}
	var rules []rule
	for _, r := range strings.Split(tag, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "required":
			rules = append(rules, rule{func(_ reflect.Value, present bool) string {
				if !present {
					return "is required"
				}
				return ""
			}})
		case r == "nonempty":
			rules = append(rules, rule{func(v reflect.Value, _ bool) string {
				if v.Len() == 0 {
					return "must not be empty"
				}
				return ""
			}})
		case r == "odd":
			rules = append(rules, numeric(t, r, func(x float64) bool { return int64(x)%2 != 0 }, "must be odd"))
		case strings.HasPrefix(r, "oneof="):
			choices := strings.Split(strings.TrimPrefix(r, "oneof="), "|")
			rules = append(rules, rule{func(v reflect.Value, _ bool) string {
				s := fmt.Sprint(v.Interface())
				for _, c := range choices {
					if s == c {
						return ""
					}
				}
				msg := fmt.Sprintf("must be one of %s, got %q", strings.Join(choices, ", "), s)
				if c := Closest(s, choices); len(c) > 0 {
					msg += fmt.Sprintf("; did you mean %q?", c[0])
				}
				return msg
			}})
		default:
			op, num := splitComparison(r)
			if op == "" {
				panic(fmt.Sprintf("schema: unknown check rule %q", r))
			}
			bound, err := strconv.ParseFloat(num, 64)
			if err != nil {
				panic(fmt.Sprintf("schema: bad number in check rule %q", r))
			}
			var ok func(float64) bool
			switch op {
			case ">":
				ok = func(x float64) bool { return x > bound }
			case ">=":
				ok = func(x float64) bool { return x >= bound }
			case "<":
				ok = func(x float64) bool { return x < bound }
			case "<=":
				ok = func(x float64) bool { return x <= bound }
			}
			rules = append(rules, numeric(t, r, ok, "must be "+op+" "+num))
		}
	}
	return rules
}

func splitComparison(r string) (op, num string) {
	for _, op := range []string{">=", "<=", ">", "<"} {
		if strings.HasPrefix(r, op) {
			return op, strings.TrimSpace(r[len(op):])
		}
	}
	return "", ""
}

// numeric builds a rule over a number, or over each number of a list.
func numeric(t reflect.Type, name string, ok func(float64) bool, msg string) rule {
	elem := t
	list := t.Kind() == reflect.Slice
	if list {
		elem = t.Elem()
	}
	if _, isNum := toFloat(reflect.Zero(elem)); !isNum {
		panic(fmt.Sprintf("schema: rule %q on non-numeric type %s", name, t))
	}
	return rule{func(v reflect.Value, _ bool) string {
		if !list {
			x, _ := toFloat(v)
			if !ok(x) {
				return fmt.Sprintf("%s, got %v", msg, v.Interface())
			}
			return ""
		}
		for i := range v.Len() {
			x, _ := toFloat(v.Index(i))
			if !ok(x) {
				return fmt.Sprintf("element %d %s, got %v", i, msg, v.Index(i).Interface())
			}
		}
		return ""
	}}
}

func toFloat(v reflect.Value) (float64, bool) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()), true
	}
	return 0, false
}
