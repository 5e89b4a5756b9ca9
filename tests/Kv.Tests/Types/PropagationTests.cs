using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>kv-server as master with a real redis-server 7.0.15 replica attached (streamed propagation).</summary>
public sealed class KvMasterRedisReplicaFixture : IAsyncLifetime
{
    /// <summary>kv-server master.</summary>
    public ServerProcess Master { get; private set; } = null!;

    /// <summary>redis-server replica.</summary>
    public ServerProcess Replica { get; private set; } = null!;

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        Master = await ServerProcess.StartKvAsync("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0");
        Replica = await ServerProcess.StartRedisAsync("--enable-debug-command", "yes");
        using var c = await Replica.ConnectAsync();
        await c.CommandAsync("REPLICAOF", "127.0.0.1", Master.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var info = RespFormat.Text(await c.CommandAsync("INFO", "replication")) ?? "";
            if (info.Contains("master_link_status:up", StringComparison.Ordinal)) break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("replica did not connect: " + info + "\n" + Master.LogTail());
            await Task.Delay(100);
        }
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (Replica is not null) await Replica.DisposeAsync();
        if (Master is not null) await Master.DisposeAsync();
    }
}

/// <summary>
/// Checks the propagation rewrites of the collection commands: commands with random or blocking behaviour run on a
/// kv-server master must leave a real redis-server replica with exactly the same data (DEBUG DIGEST-VALUE per key
/// and DEBUG DIGEST), which only holds if kv propagates the effect (SPOP -> SREM/DEL, HINCRBYFLOAT -> HSET, served
/// BLPOP -> LPOP, BLMOVE -> LMOVE, BZPOPMIN -> ZPOPMIN...) rather than the command itself.
/// </summary>
public class PropagationTests(KvMasterRedisReplicaFixture f, ITestOutputHelper output) : IClassFixture<KvMasterRedisReplicaFixture>
{
    private static string S(byte[] reply) => RespFormat.Escape(reply);

    private async Task AssertSameDataAsync(RespClient master)
    {
        var wait = await master.CommandAsync("WAIT", "1", "5000");
        Assert.Equal(":1\r\n", S(wait).Replace("\\r\\n", "\r\n"));
        using var replica = await f.Replica.ConnectAsync();
        // WAIT acks the offset; give the replica a moment to apply what it acked.
        await Task.Delay(50);
        var keys = RespFormat.Elements(await master.CommandAsync("KEYS", "*"))!.Select(e => RespFormat.Text(e)!).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var diffs = new List<string>();
        foreach (var k in keys)
        {
            var a = await master.CommandAsync("DEBUG", "DIGEST-VALUE", k);
            var b = await replica.CommandAsync("DEBUG", "DIGEST-VALUE", k);
            if (!a.AsSpan().SequenceEqual(b)) diffs.Add($"{k}: master {S(a)} replica {S(b)}");
        }
        var da = await master.CommandAsync("DEBUG", "DIGEST");
        var db = await replica.CommandAsync("DEBUG", "DIGEST");
        output.WriteLine($"{keys.Count} keys, digest {S(da)}");
        Assert.True(diffs.Count == 0 && da.AsSpan().SequenceEqual(db), "replica differs:\n" + string.Join('\n', diffs) + $"\nmaster {S(da)} replica {S(db)}");
    }

    /// <summary>Waits until INFO clients reports <paramref name="n"/> blocked clients, so the blocking order is the send order.</summary>
    private static async Task WaitBlockedAsync(RespClient c, int n)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var info = Encoding.ASCII.GetString(await c.CommandAsync("INFO", "clients"));
            if (info.Contains($"blocked_clients:{n}\r\n")) return;
            Assert.True(DateTime.UtcNow < deadline, $"blocked_clients never reached {n}: {info}");
            await Task.Delay(10);
        }
    }

    private static async Task RunAsync(RespClient c, string script)
    {
        foreach (var raw in script.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var reply = await c.CommandAsync(RespFormat.SplitArgs(line));
            Assert.False(reply.Length > 0 && reply[0] == '-', $"{line} -> {Encoding.UTF8.GetString(reply)}");
        }
    }

    [Fact]
    public async Task RandomAndFloatCommandsReplicateTheirEffect()
    {
        using var m = await f.Master.ConnectAsync();
        await m.CommandAsync("FLUSHALL");
        await RunAsync(m, """
            SADD s1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
            SPOP s1
            SPOP s1 3
            SPOP s1 14
            SADD s2 a b c d e f g h
            SPOP s2 100
            SADD s3 x y z w
            SPOP s3
            SPOP s3 0
            SADD s4 a b c d e f g h i j k
            SPOP s4 2
            SMOVE s4 s5 a
            SMOVE s4 s5 b
            HSET h f 1.5 g 10
            HINCRBYFLOAT h f 0.1
            HINCRBYFLOAT h g 3.0e2
            HINCRBYFLOAT h new 1.23456789012345678
            HINCRBY h i 7
            ZADD z 1 a 2 b 3 c
            ZADD z INCR 0.1 a
            ZINCRBY z 2.5 b
            ZPOPMIN z
            ZPOPMAX z 1
            ZADD z2 1 a 2 b 3 c 4 d
            ZUNIONSTORE zu 2 z z2 WEIGHTS 2 3
            ZINTERSTORE zi 2 z z2
            ZDIFFSTORE zd 2 z2 z
            ZRANGESTORE zr z2 1 2
            ZREMRANGEBYSCORE z2 2 3
            SINTERSTORE si s4 s5
            SUNIONSTORE su s4 s5
            SDIFFSTORE sd s4 s5
            RPUSH l a b c d e
            LMOVE l l2 LEFT RIGHT
            RPOPLPUSH l l2
            LPOP l 2
            LREM l2 1 a
            LTRIM l2 0 0
            LINSERT l2 BEFORE c x
            LSET l2 0 y
            """);
        await AssertSameDataAsync(m);
    }

    [Fact]
    public async Task ServedBlockingCommandsReplicateAsNonBlocking()
    {
        using var m = await f.Master.ConnectAsync();
        await m.CommandAsync("FLUSHALL");
        using var b1 = await f.Master.ConnectAsync();
        using var b2 = await f.Master.ConnectAsync();
        using var b3 = await f.Master.ConnectAsync();
        await b1.SendAsync("BLPOP", "q1", "q2", "0");
        await WaitBlockedAsync(m, 1);
        await b2.SendAsync("BLMOVE", "q2", "dst", "RIGHT", "LEFT", "0");
        await WaitBlockedAsync(m, 2);
        await b3.SendAsync("BZPOPMIN", "zq", "0");
        await WaitBlockedAsync(m, 3);
        Assert.Null(await b1.TryReadReplyAsync(TimeSpan.FromMilliseconds(200)));
        await RunAsync(m, """
            RPUSH q2 a b c
            ZADD zq 5 m 1 n
            """);
        Assert.Equal("*2\r\n$2\r\nq2\r\n$1\r\na\r\n", Encoding.ASCII.GetString(await b1.ReadReplyAsync()));
        Assert.Equal("$1\r\nc\r\n", Encoding.ASCII.GetString(await b2.ReadReplyAsync()));
        Assert.Equal("*3\r\n$2\r\nzq\r\n$1\r\nn\r\n$1\r\n1\r\n", Encoding.ASCII.GetString(await b3.ReadReplyAsync()));
        await b1.SendAsync("BRPOPLPUSH", "q3", "dst", "0");
        await WaitBlockedAsync(m, 1);
        await b2.SendAsync("BRPOP", "q3", "0");
        await WaitBlockedAsync(m, 2);
        await RunAsync(m, """
            MULTI
            RPUSH q3 x y
            RPUSH q3 z
            EXEC
            """);
        Assert.Equal("$1\r\nz\r\n", Encoding.ASCII.GetString(await b1.ReadReplyAsync()));
        Assert.Equal("*2\r\n$2\r\nq3\r\n$1\r\ny\r\n", Encoding.ASCII.GetString(await b2.ReadReplyAsync()));
        await AssertSameDataAsync(m);
    }

    [Fact]
    public async Task TransactionsWithRandomPopsReplicate()
    {
        using var m = await f.Master.ConnectAsync();
        await m.CommandAsync("FLUSHALL");
        await RunAsync(m, """
            SADD s 1 2 3 4 5 6 7 8 9
            SADD t a b c d e f
            MULTI
            SPOP s 2
            SPOP t
            HINCRBYFLOAT h f 2.5
            BLPOP nothing 0
            SPOP s 100
            EXEC
            """);
        await AssertSameDataAsync(m);
    }
}
