using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>
/// Differential tests of the blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BZPOPMIN BZPOPMAX): one client blocks,
/// another pushes; timeouts; MULTI; wrong types; the replication stream shows the non-blocking rewrite.
/// </summary>
public class BlockingTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    /// <summary>A script line sending a command without reading its reply.</summary>
    private static string Send(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\\r\\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\\r\\n").Append(a).Append("\\r\\n");
        return "!send \"" + sb + "\"";
    }

    [Fact]
    public async Task ListPopsWakeUp()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync($"""
            @1 {Send("BLPOP", "k1", "k2", "0")}
            @1 !noreply 150
            RPUSH k2 a b
            @1 !read
            LRANGE k2 0 -1
            @1 {Send("BRPOP", "k1", "k2", "5")}
            @1 !read
            EXISTS k2
            @1 {Send("BRPOP", "q", "0")}
            @1 !blocked 1
            @2 {Send("BLPOP", "q", "0")}
            @2 !blocked 2
            @1 !noreply 100
            RPUSH q x y z
            @1 !read
            @2 !read
            LRANGE q 0 -1
            BLPOP q 0
            BLPOP nothing 0.05
            BRPOP nothing 0.01
            BLPOP nothing -1
            BLPOP nothing abc
            BLPOP nothing inf
            BLPOP
            BLPOP k
            SET str v
            BLPOP str 0
            BLPOP nothing str 0.01
            RPUSH ok 1
            BLPOP ok str 0
            """);
    }

    [Fact]
    public async Task MoveAndZsetPopsWakeUp()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync($"""
            @1 {Send("BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")}
            @1 !noreply 100
            RPUSH src a b
            @1 !read
            LRANGE dst 0 -1
            LRANGE src 0 -1
            @1 {Send("BRPOPLPUSH", "empty", "dst", "0")}
            @1 !noreply 50
            LPUSH empty e
            @1 !read
            LRANGE dst 0 -1
            BLMOVE nothing dst LEFT LEFT 0.01
            BRPOPLPUSH nothing dst 0.01
            BLMOVE src dst UP LEFT 0
            BLMOVE src dst LEFT LEFT -1
            BRPOPLPUSH src dst x
            @1 {Send("BZPOPMIN", "z1", "z2", "0")}
            @1 !blocked 1
            @2 {Send("BZPOPMAX", "z2", "0")}
            @2 !blocked 2
            @1 !noreply 100
            ZADD z2 1 a 2 b 3 c
            @1 !read
            @2 !read
            ZRANGE z2 0 -1 WITHSCORES
            BZPOPMIN z2 0
            BZPOPMAX nothing 0.01
            BZPOPMIN nothing x
            SET str v
            BZPOPMIN str 0
            !skip HELLO 3
            BZPOPMIN nothing 0.01
            BLPOP nothing 0.01
            BLMOVE nothing dst LEFT LEFT 0.01
            ZADD z3 1.5 m
            BZPOPMAX z3 0
            """);
    }

    [Fact]
    public async Task ServedFromTheReadyKeyAndNotFromOtherTypes()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync($"""
            @1 {Send("BLPOP", "a", "b", "0")}
            @1 !noreply 100
            MULTI
            RPUSH b x
            RPUSH a y
            EXEC
            @1 !read
            LRANGE a 0 -1
            @1 {Send("BZPOPMAX", "za", "zb", "0")}
            @1 !noreply 100
            MULTI
            ZADD zb 1 x
            ZADD za 2 y
            EXEC
            @1 !read
            @1 {Send("BLPOP", "k", "0")}
            @1 !noreply 100
            MULTI
            RPUSH k y
            DEL k
            SET k str
            EXEC
            @1 !noreply 100
            DEL k
            RPUSH k z
            @1 !read
            @1 {Send("BLMOVE", "m", "dst", "LEFT", "LEFT", "0")}
            @1 !noreply 100
            SET dst notalist
            RPUSH m v
            @1 !read
            LRANGE m 0 -1
            """);
    }

    [Fact]
    public async Task InsideMultiDoesNotBlock()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            MULTI
            BLPOP nothing 0
            BRPOP nothing 10
            BLMOVE nothing dst LEFT LEFT 0
            BRPOPLPUSH nothing dst 0
            BZPOPMIN nothing 0
            BZPOPMAX nothing 0
            RPUSH l a
            BLPOP l 0
            EXEC
            """);
    }

    [Fact]
    public async Task ServedBlockedClientsPropagateNonBlockingForm()
    {
        // A MONITOR sees the client's command; a replica would see the rewrite. Here we check the data effect of
        // several wake-ups in one push and of a key emptied by another client before the waiter is served.
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync($"""
            @1 {Send("BLPOP", "k", "0")}
            @1 !blocked 1
            @2 {Send("BLPOP", "k", "0")}
            @2 !blocked 2
            @3 {Send("BLPOP", "k", "0")}
            @3 !blocked 3
            @1 !noreply 100
            MULTI
            RPUSH k 1 2
            LPOP k
            EXEC
            @1 !read
            @2 !noreply 100
            RPUSH k 3
            @2 !read
            @3 !noreply 50
            DEL k
            RPUSH k 4 5
            @3 !read
            LRANGE k 0 -1
            """);
    }
}

/// <summary>LMPOP/BLMPOP/ZMPOP/BZMPOP (7.0) against redis-server 7.0.15.</summary>
public class MPopTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Fact]
    public async Task MultiKeyPops()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            RPUSH l2 a b c d
            LMPOP 2 l1 l2 LEFT
            LMPOP 2 l1 l2 RIGHT COUNT 2
            LMPOP 2 l1 l2 LEFT COUNT 10
            LMPOP 2 l1 l2 LEFT
            LMPOP 0 l1 LEFT
            LMPOP -1 l1 LEFT
            LMPOP x l1 LEFT
            LMPOP 3 l1 l2 LEFT
            LMPOP 1 l1 UP
            LMPOP 1 l1 LEFT COUNT 0
            LMPOP 1 l1 LEFT COUNT -1
            LMPOP 1 l1 LEFT COUNT 1 COUNT 2
            LMPOP 1 l1 LEFT FOO
            LMPOP 1 l1
            SET str v
            LMPOP 2 str l2 LEFT
            RPUSH l3 x
            LMPOP 2 l3 str LEFT
            BLMPOP 0.01 1 none LEFT
            BLMPOP x 1 none LEFT
            BLMPOP -1 1 none LEFT
            BLMPOP 0 0 none LEFT
            ZADD z2 1 a 2 b 3 c
            ZMPOP 2 z1 z2 MIN
            ZMPOP 2 z1 z2 MAX COUNT 5
            ZMPOP 1 z2 MIN
            ZMPOP 1 z2 MID
            ZMPOP 1 z2 MIN COUNT 0
            ZMPOP 2 str z2 MIN
            BZMPOP 0.01 1 none MIN
            BZMPOP 0 1 str MIN
            !skip HELLO 3
            ZADD z3 1 a 2 b
            ZMPOP 1 z3 MIN COUNT 2
            RPUSH l4 a
            LMPOP 1 l4 LEFT
            LMPOP 1 l4 LEFT
            ZMPOP 1 z3 MIN
            MULTI
            BLMPOP 0 1 none LEFT
            BZMPOP 0 1 none MAX
            EXEC
            """);
    }

    [Fact]
    public async Task BlockingMultiPopsWakeUp()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        static string Send(params string[] args)
        {
            var sb = new System.Text.StringBuilder().Append('*').Append(args.Length).Append("\\r\\n");
            foreach (var a in args) sb.Append('$').Append(a.Length).Append("\\r\\n").Append(a).Append("\\r\\n");
            return "!send \"" + sb + "\"";
        }
        await d.RunAsync($"""
            @1 {Send("BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")}
            @1 !noreply 100
            RPUSH b 1 2 3
            @1 !read
            @1 {Send("BZMPOP", "0", "2", "za", "zb", "MAX", "COUNT", "5")}
            @1 !noreply 100
            ZADD zb 1 x 2 y
            @1 !read
            EXISTS zb
            LRANGE b 0 -1
            """);
    }
}
