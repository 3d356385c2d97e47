package main

// appendIndent appends to dst the compact JSON src (as json.Marshal
// writes it: valid, no whitespace outside strings) indented as
// json.Indent(dst, src, prefix, indent) indents it, byte for byte: each
// element of an object or array on a new line beginning with prefix and
// one indent per level, empty objects and arrays kept as {} and [], a
// space after each colon, no prefix before the first line. It does not
// validate src (json.Indent does, and is three times slower on the status
// document, a per-byte state machine); the status and /ietf-vrrp writers
// give it what json.Encoder wrote.
func appendIndent(dst, src []byte, prefix, indent string) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, indent...)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			// A string, copied whole: up to the closing quote that no
			// backslash escapes.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			dst = append(dst, src[i:min(j+1, len(src))]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
