using System.Buffers.Text;
using System.Text;
using Kv.Resp;
using Kv.Server;
using Kv.Storage;

namespace Kv.Commands;

/// <summary>Encoding thresholds of the collection types (redis.conf *-max-listpack-*, set-max-intset-entries).</summary>
internal struct TypeLimits
{
    public long HashEntries, HashValue, SetIntset, ZSetEntries, ZSetValue;

    private static KvServer? _server;
    private static ConfigParam? _he, _hv, _si, _ze, _zv;

    /// <summary>Current limits of the context's server (reads the config parameters, cached per server).</summary>
    public static TypeLimits Of(CommandContext ctx)
    {
        var s = ctx.Server;
        if (!ReferenceEquals(s, _server))
        {
            var cfg = s.Config;
            _he = cfg.Find("hash-max-listpack-entries");
            _hv = cfg.Find("hash-max-listpack-value");
            _si = cfg.Find("set-max-intset-entries");
            _ze = cfg.Find("zset-max-listpack-entries");
            _zv = cfg.Find("zset-max-listpack-value");
            _server = s;
        }
        var l = new TypeLimits
        {
            HashEntries = _he?.Number ?? 512,
            HashValue = _hv?.Number ?? 64,
            SetIntset = _si?.Number ?? 512,
            ZSetEntries = _ze?.Number ?? 128,
            ZSetValue = _zv?.Number ?? 64,
        };
        return l;
    }
}

/// <summary>Shared pieces of the list/hash/set/zset command groups.</summary>
internal static class CollectionHelpers
{
    /// <summary>
    /// Looks a key up (for reading or writing) and checks its type: returns false after replying WRONGTYPE when the
    /// key holds another type; <paramref name="value"/> is null when the key is missing.
    /// </summary>
    public static bool TryGet<T>(CommandContext ctx, ReadOnlySpan<byte> key, bool write, out T? value) where T : KvObject
    {
        var o = write ? ctx.LookupWrite(key) : ctx.Lookup(key);
        if (o is null) { value = null; return true; }
        if (o is T t) { value = t; return true; }
        value = null;
        ctx.WrongType();
        return false;
    }

    /// <summary>Deletes <paramref name="key"/> when <paramref name="o"/> became empty. Returns true when deleted.</summary>
    public static bool DeleteIfEmpty(CommandContext ctx, ReadOnlySpan<byte> key, KvObject o)
    {
        if (o.Count != 0) return false;
        ctx.Db.Delete(key);
        return true;
    }

    /// <summary>
    /// getPositiveLongFromObjectOrReply: a long &gt;= 0; both a non-integer and a negative value reply
    /// <paramref name="msg"/> (default "value is out of range, must be positive").
    /// </summary>
    public static bool TryGetPositiveLong(CommandContext ctx, int arg, out long v, string? msg = null)
        => TryGetRangeLong(ctx, arg, 0, long.MaxValue, out v, msg ?? "ERR value is out of range, must be positive");

    /// <summary>getRangeLongFromObjectOrReply: with <paramref name="msg"/> every failure replies it; without, redis's default texts.</summary>
    public static bool TryGetRangeLong(CommandContext ctx, int arg, long min, long max, out long v, string? msg = null)
    {
        if (!Kv.Resp.RequestParser.TryParseLong(ctx.Arg(arg), out v))
        {
            ctx.Error(msg ?? Errors.NotInteger);
            return false;
        }
        if (v < min || v > max)
        {
            ctx.Error(msg ?? $"ERR value is out of range, value must between {min} and {max}");
            return false;
        }
        return true;
    }

    /// <summary>Bulk reply of a long's decimal text.</summary>
    public static byte[] LongBytes(long v)
    {
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(v, tmp, out int w);
        return tmp[..w].ToArray();
    }

    /// <summary>ASCII bytes.</summary>
    public static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    /// <summary>
    /// getTimeoutFromObjectOrReply (timeout.c, UNIT_SECONDS): a long double number of seconds, converted as
    /// ceil(seconds * 1000) ms; infinities overflow the cast and read as negative. Returns the relative timeout
    /// in ms (0 = block forever).
    /// </summary>
    public static bool TryGetBlockTimeout(CommandContext ctx, int arg, out long ms)
    {
        ms = 0;
        if (!Numbers.TryParseDouble(ctx.Arg(arg), out var secs))
        {
            ctx.Error("ERR timeout is not a float or out of range");
            return false;
        }
        double t = Math.Ceiling(secs * 1000.0);
        if (double.IsInfinity(t) || t < 0 || t >= 9.2233720368547758e18)
        {
            ctx.Error("ERR timeout is negative");
            return false;
        }
        ms = (long)t;
        return true;
    }

    /// <summary>True when blocking is not allowed for this client (inside MULTI/EXEC or on the master link: CLIENT_DENY_BLOCKING).</summary>
    public static bool DenyBlocking(CommandContext ctx) => ctx.Client.IsMaster || ctx.InExec;

    /// <summary>Parses the common [MATCH pattern] [COUNT count] options of the *SCAN commands and runs the scan loop.</summary>
    public static void ScanReply(CommandContext ctx, ulong cursor, Func<ulong, Action<byte[], byte[]?>, ulong> step, bool withValues)
    {
        if (!KeyCommands.TryParseScanOptions(ctx, 3, false, out var match, out long count, out _)) return;
        var raw = new List<byte[]>();
        if (withValues) count *= 2;
        long maxIterations = count * 10;
        do
        {
            cursor = step(cursor, (k, v) =>
            {
                raw.Add(k);
                if (withValues) raw.Add(v!);
            });
        } while (cursor != 0 && maxIterations-- > 0 && raw.Count < count);
        var items = raw;
        if (match is not null)
        {
            items = new List<byte[]>();
            int stride = withValues ? 2 : 1;
            for (int i = 0; i < raw.Count; i += stride)
            {
                if (!Glob.Match(match, raw[i], false)) continue;
                items.Add(raw[i]);
                if (withValues) items.Add(raw[i + 1]);
            }
        }
        ctx.Reply.ArrayHeader(2);
        BulkCursor(ctx.Reply, cursor);
        ctx.Reply.ArrayHeader(items.Count);
        foreach (var i in items) ctx.Reply.Bulk(i);
    }

    /// <summary>d2string (util.c): "-0"/"0", integral values within +-LLONG_MAX/2 as integers, else "%.17g".</summary>
    public static string D2String(double v)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        if (v == 0) return double.IsNegative(v) ? "-0" : "0";
        if (v >= -(double)(long.MaxValue / 2) && v <= (double)(long.MaxValue / 2) && Math.Floor(v) == v)
            return ((long)v).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ReplyWriter.FormatDouble17g(v);
    }

    /// <summary>Writes a bulk reply whose text is the unsigned cursor.</summary>
    public static void BulkCursor(ReplyWriter w, ulong cursor) => w.Bulk(Encoding.ASCII.GetBytes(cursor.ToString()));
}
