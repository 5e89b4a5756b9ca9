using System.Globalization;
using System.Text;

namespace Kv.Commands;

/// <summary>Number parsing and formatting with redis's rules (util.c string2ll, string2ld, ld2string).</summary>
public static class Numbers
{
    /// <summary>
    /// Parses a double as redis's getDoubleFromObject: strtod over the whole string, no leading/trailing space,
    /// "inf"/"+inf"/"-inf" (any case, also "infinity") accepted, NaN rejected.
    /// </summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 5000) return false;
        if (IsSpace(s[0]) || IsSpace(s[^1])) return false;
        Span<char> chars = s.Length <= 256 ? stackalloc char[s.Length] : new char[s.Length];
        for (int i = 0; i < s.Length; i++) chars[i] = (char)s[i];
        ReadOnlySpan<char> t = chars;
        var lower = t.ToString().ToLowerInvariant();
        switch (lower)
        {
            case "inf": case "+inf": case "infinity": case "+infinity": value = double.PositiveInfinity; return true;
            case "-inf": case "-infinity": value = double.NegativeInfinity; return true;
        }
        if (lower.Contains("nan") || lower.Contains("in")) return false;
        // strtod accepts hex floats too ("0x1p3"); rarely used: not supported here.
        if (!double.TryParse(t, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out value)) return false;
        return !double.IsNaN(value);
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    /// <summary>ASCII bytes of a long's decimal form.</summary>
    public static byte[] LongToBytes(long v) => Encoding.ASCII.GetBytes(v.ToString(CultureInfo.InvariantCulture));
}
