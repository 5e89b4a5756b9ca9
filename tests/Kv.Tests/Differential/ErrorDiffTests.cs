using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Error replies: unknown command, arity, WRONGTYPE, syntax, not an integer, overflow, out of range.</summary>
public class ErrorDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task UnknownAndArity() => Run("""
        NOSUCHCOMMAND
        NOSUCHCOMMAND a b "c d"
        nosuch "with \"quote"
        ""
        "GET "
        get
        Get k
        gEt k x
        SET
        SET k
        MGET
        DEL
        EXISTS
        INCR
        INCRBY k
        EXPIRE k
        TTL
        TYPE
        RENAME a
        SELECT
        ECHO
        PUBLISH x
        CONFIG GET
        CONFIG SET a
        CONFIG NOSUCH
        CLIENT NOSUCH
        OBJECT NOSUCH k
        COMMAND NOSUCH
        DEBUG
        """);

    [Fact]
    public Task TypeAndValueErrors() => Run("""
        RPUSH l a
        SADD s a
        HSET h f v
        ZADD z 1 a
        SET str v
        GET l
        INCR s
        APPEND h x
        STRLEN z
        GETRANGE l 0 1
        SETRANGE s 0 x
        MGET l s h z str
        GETSET l x
        GETDEL h
        GETEX z
        LPUSH str x
        SADD str x
        HSET str f v
        ZADD str 1 a
        INCRBY str 1
        INCRBY k 99999999999999999999
        INCRBY k -9223372036854775809
        DECRBY k -9223372036854775808
        SET n 9223372036854775807
        INCRBY n 1
        DECRBY n -1
        SET n -9223372036854775807
        DECRBY n 2
        INCRBY n -2
        SETRANGE str -1 x
        SETRANGE str 10000000000 x
        EXPIRE str 10 GT LT
        SET str v PX 1 EX 1
        GETRANGE str a b
        SELECT 100
        SELECT 9999999999999999999
        MOVE str 99
        OBJECT ENCODING
        SET x "\xff\xfe"
        INCR x
        """);
}
