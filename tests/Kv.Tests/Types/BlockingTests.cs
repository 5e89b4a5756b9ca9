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
            @2 {Send("BLPOP", "q", "0")}
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
            @2 {Send("BZPOPMAX", "z2", "0")}
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
            @2 {Send("BLPOP", "k", "0")}
            @3 {Send("BLPOP", "k", "0")}
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
