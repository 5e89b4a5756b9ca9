using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Connection commands (PING, ECHO, SELECT, HELLO, CLIENT, RESET, QUIT), compared with redis.</summary>
public class ConnectionDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task PingEchoSelect() => Run("""
        PING
        PING hello
        PING ""
        PING a b
        ECHO x
        ECHO ""
        ECHO
        ECHO a b
        SELECT 3
        SET k v3
        SELECT 0
        GET k
        SELECT 3
        GET k
        SELECT 0
        AUTH pw
        AUTH user pw
        AUTH a b c
        AUTH default ""
        """);

    [Fact]
    public Task HelloVariants() => Run("""
        HELLO 4
        HELLO 1
        HELLO abc
        HELLO 2 AUTH default x
        HELLO 2 SETNAME "bad name"
        HELLO 2 SETNAME ok FOO
        HELLO 2 AUTH default
        HELLO 3 SETNAME
        CLIENT GETNAME
        HELLO 2 SETNAME myname
        CLIENT GETNAME
        CLIENT SETNAME ""
        CLIENT GETNAME
        CLIENT SETNAME "a b"
        CLIENT SETNAME "a\nb"
        CLIENT SETNAME x y
        CLIENT SETNAME
        CLIENT FOO
        CLIENT
        CLIENT NO-EVICT on
        CLIENT NO-EVICT off
        CLIENT NO-EVICT maybe
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL ID 999999
        CLIENT KILL ADDR 1.2.3.4:5
        CLIENT KILL FOO bar
        CLIENT KILL ID abc
        !type CLIENT ID
        !type CLIENT LIST
        !type CLIENT INFO
        CLIENT LIST TYPE foo
        CLIENT LIST ID abc
        CLIENT REPLY ON
        CLIENT REPLY maybe
        """);

    [Fact]
    public Task Resp3Replies() => Run("""
        !skip HELLO 3
        SET s v
        GET s
        GET nosuch
        RPUSH l a b
        LRANGE l 0 -1
        LRANGE nosuch 0 -1
        HSET h f v
        HGETALL h
        HGETALL nosuch
        SADD st m
        SMEMBERS st
        ZADD z 1.5 a
        ZSCORE z a
        ZSCORE z nosuch
        ZRANGE z 0 -1 WITHSCORES
        INCRBYFLOAT f 1.5
        MGET s nosuch
        EXISTS s
        TTL s
        CONFIG GET maxclients
        !sortpairs CONFIG GET hash-max-*
        !sort SCAN 0 COUNT 100
        ECHO hi
        PING
        DEL s
        SET k v GET
        SET k v2 GET
        GETDEL nosuch
        BLPOP nosuch 0.01
        GETEX k
        OBJECT ENCODING nosuch
        HELLO 2
        GET nosuch
        HGETALL h
        """);

    [Fact]
    public Task HelloBodyAndReset() => Run("""
        !type HELLO
        !type HELLO 3
        SELECT 2
        CLIENT SETNAME x
        RESET
        CLIENT GETNAME
        SET r 1
        SELECT 0
        GET r
        MULTI
        RESET
        EXEC
        SUBSCRIBE c
        RESET
        PING
        RESET extra
        """);

    [Fact]
    public Task Quit() => Run("""
        SET k v
        QUIT
        !closed
        GET k
        QUIT extra
        !closed
        PING
        !send "PING\r\nQUIT\r\nPING\r\n"
        !read
        !read
        !closed
        """);
}
