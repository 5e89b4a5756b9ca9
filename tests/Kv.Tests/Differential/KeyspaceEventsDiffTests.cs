using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Server pair with DEBUG enabled (lazy-expiry events need DEBUG SET-ACTIVE-EXPIRE 0).</summary>
public sealed class DebugServerPairFixture : ServerPairFixture
{
    /// <inheritdoc/>
    protected override string[] ExtraArgs => ["--enable-debug-command", "yes"];
}

/// <summary>
/// Keyspace notifications (notify.c of redis-server 7.0.15): a subscriber with <c>PSUBSCRIBE __key*__:*</c> on both
/// servers, the same command script on another connection, and the whole message stream compared byte for byte
/// (event names, order, databases, classes selected by notify-keyspace-events, expired events from lazy and active
/// expiry). The stream ends with a PUBLISH on a marker channel the subscriber also listens to.
/// </summary>
public class KeyspaceEventsDiffTests(DebugServerPairFixture pair, ITestOutputHelper output) : IClassFixture<DebugServerPairFixture>
{
    private const string Marker = "kvgaps-end-of-events";

    private async Task CompareEvents(string flags, string script, string pattern = "__key*__:*")
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync($"""
            CONFIG SET notify-keyspace-events "{flags}"
            CONFIG GET notify-keyspace-events
            @1 PSUBSCRIBE {pattern}
            @1 SUBSCRIBE {Marker}
            """);
        try
        {
            await d.RunAsync(script + $"\nSELECT 0\nPUBLISH {Marker} done\n");
            var (r, k) = await d.ConnectionAsync(1);
            var redis = await Drain(r);
            var kv = await Drain(k);
            var sb = new StringBuilder();
            for (int i = 0; i < Math.Max(redis.Count, kv.Count); i++)
            {
                var a = i < redis.Count ? RespFormat.Escape(redis[i]) : "(none)";
                var b = i < kv.Count ? RespFormat.Escape(kv[i]) : "(none)";
                sb.Append(a == b ? "   " : "!! ").Append(a);
                if (a != b) sb.Append("   kv: ").Append(b);
                sb.Append('\n');
            }
            output.WriteLine(sb.ToString());
            Assert.True(redis.Count == kv.Count && redis.Zip(kv).All(p => p.First.AsSpan().SequenceEqual(p.Second)),
                $"keyspace event streams differ (flags {flags}):\n{sb}");
        }
        finally
        {
            await d.RunAsync("""
                CONFIG SET notify-keyspace-events ""
                DEBUG SET-ACTIVE-EXPIRE 1
                """);
        }
    }

    /// <summary>Reads pushed messages until the marker message.</summary>
    private static async Task<List<byte[]>> Drain(RespClient c)
    {
        var list = new List<byte[]>();
        while (true)
        {
            var m = await c.ReadReplyAsync(TimeSpan.FromSeconds(10));
            list.Add(m);
            if (Encoding.Latin1.GetString(m).Contains(Marker) && Encoding.Latin1.GetString(m).Contains("message")
                && !Encoding.Latin1.GetString(m).Contains("subscribe")) return list;
        }
    }

    [Fact]
    public Task GenericEvents() => CompareEvents("KEA", """
        RPUSH l a b
        EXPIRE l 100
        PEXPIRE l 100000 GT
        EXPIRE l 50 NX
        PERSIST l
        PERSIST l
        RENAME l l2
        RENAMENX l2 l3
        HSET h f v
        RENAME h l3
        MOVE l3 5
        SELECT 5
        COPY l3 c DB 6
        COPY l3 l3b
        DEL l3 l3b nosuch
        SELECT 6
        UNLINK c
        SELECT 0
        SADD s m
        EXPIRE s -1
        ZADD z 1 a
        PEXPIREAT z 1
        EXISTS z s
        SWAPDB 0 1
        FLUSHALL
        """);

    [Fact]
    public Task ListEvents() => CompareEvents("KEA", """
        LPUSH l a b c
        RPUSH l d
        LPUSHX nosuch x
        RPUSHX l e
        LINSERT l BEFORE a z
        LINSERT l BEFORE nosuch z
        LSET l 0 y
        LPOP l
        RPOP l 2
        LPOP l 0
        LTRIM l 0 0
        LTRIM l 0 -1
        LREM l 0 nosuch
        RPUSH l a a b
        LREM l 0 a
        LMOVE l l2 LEFT RIGHT
        LMOVE l2 l2 LEFT LEFT
        RPOPLPUSH l2 l
        RPOP l 10
        RPUSH m 1 2 3
        LTRIM m 5 10
        LMPOP 2 nosuch m LEFT
        RPUSH m 1 2
        LMPOP 1 m RIGHT COUNT 5
        """);

    [Fact]
    public Task HashSetZSetEvents() => CompareEvents("KEA", """
        HSET h a 1 b 2
        HMSET h c 3
        HSETNX h a 9
        HSETNX h d 4
        HINCRBY h a 5
        HINCRBYFLOAT h b 1.5
        HDEL h nosuch
        HDEL h a b
        HDEL h c d
        SADD s 1 2 3 x
        SADD s 1
        SREM s nosuch
        SREM s 1
        SMOVE s s2 2
        SMOVE s s2 nosuch
        !skip SPOP s
        !skip SPOP s 1
        SPOP s2 5
        SADD a 1 2 3
        SADD b 2 3 4
        SINTERSTORE i a b
        SUNIONSTORE u a b
        SDIFFSTORE df a b
        SDIFFSTORE df a a
        SINTERSTORE i a nosuch
        SUNIONSTORE u nosuch
        ZADD z 1 a 2 b 3 c 4 d
        ZADD z XX 5 nosuch
        ZADD z NX 1 a
        ZADD z CH GT 10 a
        ZINCRBY z 1 b
        ZADD z INCR 1 c
        ZREM z nosuch
        ZREM z d
        ZREMRANGEBYRANK z 0 0
        ZREMRANGEBYSCORE z 100 200
        ZREMRANGEBYSCORE z 0 3
        ZADD z 1 a 1 b 1 c
        ZREMRANGEBYLEX z [a [a
        ZPOPMIN z
        ZPOPMAX z 5
        ZADD p 1 a 2 b
        ZADD q 2 b 3 c
        ZUNIONSTORE zu 2 p q
        ZINTERSTORE zi 2 p q
        ZDIFFSTORE zd 2 p q
        ZDIFFSTORE zd 2 p p
        ZRANGESTORE zr p 0 -1
        ZRANGESTORE zr p 5 10
        ZMPOP 1 p MIN COUNT 10
        """);

    [Fact]
    public Task StringEvents() => CompareEvents("KEA", """
        SET s v
        SET s v2 EX 100
        SET s v3 KEEPTTL
        SET s v4 NX
        SET s v5 XX GET
        SET nx v NX PX 100000
        SETNX s x
        SETNX s2 x
        SETEX s3 100 v
        PSETEX s3 100000 v
        GETSET s3 w
        GETSET s4 w
        GETDEL s4
        GETDEL s4
        GETEX s3 EX 100
        GETEX s3 PERSIST
        GETEX s3 PERSIST
        GETEX s3 PXAT 1
        MSET a 1 b 2
        MSETNX a 1 c 3
        MSETNX c 3 d 4
        INCR a
        INCRBY n 5
        DECR n
        DECRBY n 2
        INCRBYFLOAT f 1.5
        INCRBYFLOAT f 1
        APPEND ap x
        APPEND ap y
        SETRANGE sr 2 abc
        SETRANGE sr 0 z
        SETRANGE sr 0 ""
        SETRANGE nosr 0 ""
        """);

    [Fact]
    public Task NewEventsForStrings() => CompareEvents("Kn$", """
        SET s v
        SET s v
        MSET a 1 s 2
        INCR i
        INCR i
        APPEND ap x
        SETRANGE sr 1 x
        INCRBYFLOAT f 1
        """);

    /// <summary>With "A" and "n" CONFIG GET shows "AKE" (no n) on redis, yet new-key events keep coming.</summary>
    [Fact]
    public Task NewEventsWithAllClasses() => CompareEvents("AnKE", """
        SET s v
        SET s v
        LPUSH l a
        HSET h f v
        DEL s
        """);

    [Fact]
    public async Task ConfigValuesAndErrors()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events KEq
            CONFIG SET notify-keyspace-events "K E"
            CONFIG SET notify-keyspace-events gA
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events EKAm
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events $lshzxetdg
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events zsh$lK
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events x
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events AnKE
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events g$lshzxetdnmK
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events AKEmn
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events lnE
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events ""
            CONFIG GET notify-keyspace-events
            """);
    }

    [Fact]
    public Task EventsInsideMultiExec() => CompareEvents("KEA", """
        MULTI
        RPUSH l a
        LPOP l
        SET s v EX 10
        INCR s
        DEL s
        EXEC
        """);

    [Fact]
    public Task ClassSelection() => CompareEvents("Kl", """
        SET s v
        RPUSH l a
        HSET h f v
        DEL l h
        """);

    [Fact]
    public Task KeyeventOnlyGenericAndNew() => CompareEvents("Egn", """
        RPUSH l a
        SADD s m
        HSET h f v
        ZADD z 1 m
        RENAME l l2
        COPY s s2
        DEL l2 s s2
        """);

    [Fact]
    public Task NoChannelClassMeansNothing() => CompareEvents("A", """
        RPUSH l a
        DEL l
        """);

    [Fact]
    public Task KeyspacePatternOnOneDb() => CompareEvents("KA", """
        RPUSH l a
        SELECT 3
        RPUSH l b
        LPOP l
        """, "__keyspace@3__:*");

    [Fact]
    public Task ExpiredEventsActiveAndLazy() => CompareEvents("KEA", """
        RPUSH l a
        PEXPIRE l 30
        !sleep 400
        # expired by the active cycle by now; if a loaded machine delayed it, this lookup expires it lazily
        # (the same event at the same place in the stream either way)
        EXISTS l
        DEBUG SET-ACTIVE-EXPIRE 0
        HSET h f v
        PEXPIRE h 20
        !sleep 100
        HGET h f
        RPUSH l2 a
        PEXPIRE l2 20
        !sleep 100
        LPUSH l2 b
        DEBUG SET-ACTIVE-EXPIRE 1
        """);

    [Fact]
    public Task KeyMissEvents() => CompareEvents("Km", """
        HGET nosuch f
        LRANGE nosuch 0 -1
        RPUSH l a
        LRANGE l 0 -1
        ZSCORE nosuchz m
        EXISTS nosuch l
        TYPE nosuch
        TTL nosuch
        PTTL nosuch
        EXPIRETIME nosuch
        OBJECT ENCODING nosuch
        TOUCH nosuch
        COPY nosuch x
        RENAME nosuch x
        """);

    [Fact]
    public async Task KeyspaceHitsAndMissesOfKeyCommands()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        foreach (var cmd in new[]
                 {
                     "EXISTS a nosuch", "TYPE a", "TYPE nosuch", "TTL a", "PTTL nosuch", "EXPIRETIME a", "PEXPIRETIME nosuch",
                     "OBJECT ENCODING a", "OBJECT ENCODING nosuch", "TOUCH a nosuch", "COPY nosuch x", "COPY a b", "RENAME nosuch x",
                     "MOVE nosuch 1", "PERSIST nosuch", "EXPIRE nosuch 10", "DEL nosuch", "GET a", "GET nosuch",
                 })
        {
            var script = $"""
                SET a 1
                CONFIG RESETSTAT
                {cmd}
                """;
            await d.RunAsync(script);
            var (r, k) = await d.SendBothAsync(0, "INFO", "stats");
            static string Stats(byte[] info) => string.Join(" ", RespFormat.Text(info)!.Split("\r\n")
                .Where(l => l.StartsWith("keyspace_hits:", StringComparison.Ordinal) || l.StartsWith("keyspace_misses:", StringComparison.Ordinal)));
            Assert.True(Stats(r) == Stats(k), $"{cmd}: redis {Stats(r)}, kv {Stats(k)}");
        }
    }

    [Fact]
    public async Task BlockedClientServedEvents()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            CONFIG SET notify-keyspace-events KEA
            @1 PSUBSCRIBE __key*__:*
            @1 SUBSCRIBE kvgaps-end-of-events
            !blocked 0
            """);
        try
        {
            var (r2, k2) = await d.ConnectionAsync(2);
            await r2.SendAsync("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0");
            await k2.SendAsync("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0");
            await d.RunAsync("""
                !blocked 1
                RPUSH src a
                @2 !read
                """);
            await r2.SendAsync("BZPOPMIN", "z", "0");
            await k2.SendAsync("BZPOPMIN", "z", "0");
            await d.RunAsync("""
                !blocked 1
                ZADD z 1 a 2 b
                @2 !read
                """);
            await r2.SendAsync("BLPOP", "l", "0");
            await k2.SendAsync("BLPOP", "l", "0");
            await d.RunAsync("""
                !blocked 1
                MULTI
                RPUSH l a
                RENAME l l2
                RPUSH l b
                EXEC
                @2 !read
                PUBLISH kvgaps-end-of-events done
                """);
            var (r, k) = await d.ConnectionAsync(1);
            var redis = await Drain(r);
            var kv = await Drain(k);
            Assert.Equal(redis.Select(m => RespFormat.Escape(m)), kv.Select(m => RespFormat.Escape(m)));
        }
        finally
        {
            await d.RunAsync("""CONFIG SET notify-keyspace-events "" """);
        }
    }
}
