using System.Globalization;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>
/// Clients blocked in BLPOP / BLMOVE / BZPOPMIN / BZPOPMAX woken (or deliberately not woken) by keys that appear
/// through RENAME, RENAMENX, MOVE, COPY, SWAPDB and ZUNIONSTORE, as redis-server 7.0.15 does it (db.c dbAdd's
/// signalKeyAsReady with its list/zset type filter, dbOverwrite not signalling, scanDatabaseForReadyKeys after
/// SWAPDB). The same sequence runs on both servers; what each blocked client receives is compared byte for byte,
/// and "still blocked" is checked with <c>!noreply</c> on both.
/// </summary>
public class BlockingWakeDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    /// <summary>Sends a blocking command on both servers and waits until both report <paramref name="blocked"/> blocked clients.</summary>
    private static async Task Block(DifferentialRunner d, int conn, int blocked, params string[] args)
    {
        var (r, k) = await d.ConnectionAsync(conn);
        await r.SendAsync(args);
        await k.SendAsync(args);
        await WaitBlocked(d, blocked);
    }

    private static async Task WaitBlocked(DifferentialRunner d, int blocked)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (r, k) = await d.SendBothAsync(99, "INFO", "clients");
            int br = BlockedClients(r), bk = BlockedClients(k);
            if (br == blocked && bk == blocked) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"blocked_clients: redis {br}, kv {bk}, expected {blocked}");
            await Task.Delay(5);
        }
    }

    private static int BlockedClients(byte[] info)
    {
        foreach (var line in RespFormat.Text(info)!.Split("\r\n"))
            if (line.StartsWith("blocked_clients:", StringComparison.Ordinal))
                return int.Parse(line["blocked_clients:".Length..], CultureInfo.InvariantCulture);
        throw new InvalidOperationException("no blocked_clients field");
    }

    /// <summary>
    /// Starts a runner once no client of an earlier test is still blocked on either server (a closed connection is
    /// noticed asynchronously; a leftover would make the blocked_clients count ambiguous).
    /// </summary>
    private async Task<DifferentialRunner> Start()
    {
        var d = await DifferentialRunner.StartAsync(pair, output);
        await WaitBlocked(d, 0);
        return d;
    }

    [Fact]
    public async Task RenameAndRenameNxWakeWaiters()
    {
        await using var d = await Start();
        await Block(d, 1, 1, "BLPOP", "dst", "0");
        await d.RunAsync("""
            RPUSH src a b c
            RENAME src dst
            @1 !read
            LRANGE dst 0 -1
            """);
        await Block(d, 1, 1, "BZPOPMIN", "zdst", "0");
        await Block(d, 2, 2, "BZPOPMAX", "zdst", "0");
        await d.RunAsync("""
            ZADD ztmp 1 a 2 b 3 c
            RENAMENX ztmp zdst
            @1 !read
            @2 !read
            ZRANGE zdst 0 -1 WITHSCORES
            """);
        // RENAME over an existing key that a client waits on (the old value was a string).
        await Block(d, 1, 1, "BLPOP", "over", "0");
        await d.RunAsync("""
            SET over str
            RPUSH l2 x
            RENAME l2 over
            @1 !read
            EXISTS over
            """);
    }

    [Fact]
    public async Task WrongTypeDoesNotWake()
    {
        await using var d = await Start();
        await Block(d, 1, 1, "BLPOP", "k", "0");
        await d.RunAsync("""
            SET s str
            RENAME s k
            SADD set1 m
            RENAME k k2
            RENAME set1 k
            ZADD z1 1 m
            DEL k
            RENAME z1 k
            @1 !noreply 150
            DEL k
            LPUSH k finally
            @1 !read
            """);
        // ZUNIONSTORE over an existing (string) key is dbOverwrite: no wake-up, and a later ZADD to the existing
        // zset does not signal either; only re-creating the key does.
        await Block(d, 1, 1, "BZPOPMIN", "zz", "0");
        await d.RunAsync("""
            SET zz s
            ZADD a 1 x
            ZUNIONSTORE zz 1 a
            @1 !noreply 150
            ZADD zz 2 y
            @1 !noreply 100
            DEL zz
            ZADD zz 3 w
            @1 !read
            ZRANGE zz 0 -1 WITHSCORES
            ZRANGESTORE zz2 a 0 -1
            """);
    }

    [Fact]
    public async Task MoveAndCopyWakeWaitersInTheTargetDb()
    {
        await using var d = await Start();
        await d.RunAsync("""
            @1 SELECT 1
            @2 SELECT 2
            """);
        await Block(d, 1, 1, "BLPOP", "m", "0");
        await d.RunAsync("""
            RPUSH m x y
            MOVE m 1
            @1 !read
            @1 LRANGE m 0 -1
            EXISTS m
            """);
        await Block(d, 2, 1, "BLMOVE", "c", "cdst", "LEFT", "RIGHT", "0");
        await Block(d, 3, 2, "BLPOP", "c", "0");
        await d.RunAsync("""
            RPUSH orig 1 2 3
            COPY orig c
            @3 !read
            LRANGE c 0 -1
            COPY orig c DB 2
            @2 !read
            @2 LRANGE cdst 0 -1
            @2 LRANGE c 0 -1
            """);
        await Block(d, 3, 1, "BZPOPMIN", "zc", "0");
        await d.RunAsync("""
            SET zc str
            ZADD zorig 5 five
            COPY zorig zc
            COPY zorig zc REPLACE
            @3 !read
            ZCARD zc
            """);
    }

    [Fact]
    public async Task SwapDbScansBothDatabases()
    {
        await using var d = await Start();
        await d.RunAsync("""
            @2 SELECT 3
            @4 SELECT 3
            SELECT 3
            RPUSH sw v1 v2
            SELECT 0
            ZADD swz 5 m 6 n
            SET wrongtype s
            """);
        await Block(d, 1, 1, "BLPOP", "sw", "0");
        await Block(d, 2, 2, "BZPOPMAX", "swz", "0");
        await Block(d, 3, 3, "BLPOP", "nothere", "0");
        await Block(d, 4, 4, "BLPOP", "wrongtype", "0");
        await d.RunAsync("""
            SWAPDB 0 3
            @1 !read
            @2 !read
            @3 !noreply 100
            @4 !noreply 50
            LRANGE sw 0 -1
            @2 ZRANGE swz 0 -1 WITHSCORES
            SWAPDB 3 0
            SELECT 3
            LRANGE sw 0 -1
            SELECT 0
            ZRANGE swz 0 -1 WITHSCORES
            """);
    }

    [Fact]
    public async Task MultiExecSignalsAfterExec()
    {
        await using var d = await Start();
        await Block(d, 1, 1, "BLPOP", "q1", "q2", "0");
        await d.RunAsync("""
            RPUSH t1 a
            RPUSH t2 b
            MULTI
            RENAME t2 q2
            RENAME t1 q1
            EXEC
            @1 !read
            LRANGE q1 0 -1
            LRANGE q2 0 -1
            """);
    }
}
