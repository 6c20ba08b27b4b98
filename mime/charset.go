package mime

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
)

// UnknownCharsetError is a soft error: text is labelled with a charset this
// package cannot decode. Functions that return it also return the text
// undecoded (raw bytes, or the encoded word as written).
type UnknownCharsetError struct {
	Charset string
}

func (e *UnknownCharsetError) Error() string {
	return fmt.Sprintf("mime: unknown charset %q", e.Charset)
}

// CharsetEncoding returns the encoding named by a MIME charset label: any
// IANA name or alias (RFC 2978), the WHATWG labels browsers accept, and the
// aliases seen in mail (gb2312 and gbk decode as GBK, ks_c_5601-1987 as
// EUC-KR, iso-8859-1 and us-ascii as windows-1252 as browsers do, utf-7).
// Case, surrounding white space and quotes are ignored. An unknown or
// unsupported name gives *UnknownCharsetError.
func CharsetEncoding(name string) (encoding.Encoding, error) {
	n := strings.Trim(name, " \t\"'")
	// The labels of most mail, without allocating.
	switch {
	case strings.EqualFold(n, "utf-8"):
		return unicode.UTF8, nil
	case strings.EqualFold(n, "us-ascii"):
		return asciiCompat, nil
	case strings.EqualFold(n, "iso-8859-1"):
		return charmap.Windows1252, nil
	}
	n = strings.ToLower(n)
	switch n {
	case "utf-8", "utf8", "unicode-1-1-utf-8", "":
		return unicode.UTF8, nil
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us":
		// Mail labelled ASCII that holds 8-bit bytes is usually UTF-8 or
		// Windows-1252; the decoder below accepts both.
		return asciiCompat, nil
	case "utf-7", "unicode-1-1-utf-7", "csunicode11utf7", "x-utf-7":
		return utf7Encoding{}, nil
	}
	if a, ok := charsetAliases[n]; ok {
		n = a
	}
	if e, err := htmlindex.Get(n); err == nil && e != nil {
		return e, nil
	}
	for _, idx := range []*ianaindex.Index{ianaindex.MIME, ianaindex.IANA} {
		if e, err := idx.Encoding(n); err == nil && e != nil {
			return e, nil
		}
	}
	return nil, &UnknownCharsetError{Charset: name}
}

// CharsetDecoder returns a fresh decoder to UTF-8 for the charset label
// name, as CharsetEncoding. Invalid input bytes decode to U+FFFD.
func CharsetDecoder(name string) (*encoding.Decoder, error) {
	e, err := CharsetEncoding(name)
	if err != nil {
		return nil, err
	}
	return e.NewDecoder(), nil
}

// charsetAliases maps labels found in mail that neither index knows.
var charsetAliases = map[string]string{
	"ks_c_5601":        "euc-kr",
	"ks_c_5601-1987":   "euc-kr",
	"ks_c_5601_1987":   "euc-kr",
	"ksc5601":          "euc-kr",
	"ksc_5601":         "euc-kr",
	"x-euc-kr":         "euc-kr",
	"cp949":            "euc-kr",
	"windows-949":      "euc-kr",
	"uhc":              "euc-kr",
	"x-gbk":            "gbk",
	"cp936":            "gbk",
	"windows-936":      "gbk",
	"gb_2312-80":       "gbk",
	"gb2312-80":        "gbk",
	"euc-cn":           "gbk",
	"x-euc-cn":         "gbk",
	"cp932":            "shift_jis",
	"windows-31j":      "shift_jis",
	"sjis":             "shift_jis",
	"x-sjis":           "shift_jis",
	"shift-jis":        "shift_jis",
	"x-euc-jp":         "euc-jp",
	"eucjp":            "euc-jp",
	"euckr":            "euc-kr",
	"big5-hkscs":       "big5",
	"cp950":            "big5",
	"x-big5":           "big5",
	"cp1250":           "windows-1250",
	"cp1251":           "windows-1251",
	"cp1252":           "windows-1252",
	"cp1253":           "windows-1253",
	"cp1254":           "windows-1254",
	"cp1255":           "windows-1255",
	"cp1256":           "windows-1256",
	"cp1257":           "windows-1257",
	"cp1258":           "windows-1258",
	"cp-1250":          "windows-1250",
	"cp-1251":          "windows-1251",
	"cp-1252":          "windows-1252",
	"win-1251":         "windows-1251",
	"win-1252":         "windows-1252",
	"latin-1":          "iso-8859-1",
	"latin1":           "iso-8859-1",
	"iso8859-1":        "iso-8859-1",
	"iso-8859-8-i":     "iso-8859-8",
	"8859-1":           "iso-8859-1",
	"iso_8859-1":       "iso-8859-1",
	"iso-8859-15":      "iso-8859-15",
	"iso8859-15":       "iso-8859-15",
	"koi8r":            "koi8-r",
	"koi8u":            "koi8-u",
	"x-mac-roman":      "macintosh",
	"macroman":         "macintosh",
	"x-unknown":        "windows-1252",
	"unknown-8bit":     "windows-1252",
	"x-user-defined":   "windows-1252",
	"default":          "windows-1252",
	"iso-2022-jp-2":    "iso-2022-jp",
	"csiso2022jp":      "iso-2022-jp",
	"iso-ir-111":       "koi8-r",
	"cp866":            "ibm866",
	"cp-866":           "ibm866",
	"ansi_x3.110-1983": "iso-8859-1",
}
