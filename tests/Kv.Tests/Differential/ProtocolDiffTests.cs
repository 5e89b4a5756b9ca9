using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>
/// Wire protocol: inline commands, pipelining, and the exact "-ERR Protocol error: ..." replies followed by the
/// connection close (networking.c processInlineBuffer/processMultibulkBuffer).
/// </summary>
public class ProtocolDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task InlineCommands() => Run("""
        !raw "PING\r\n"
        !raw "PING\n"
        !raw "SET a \"x y\"\r\n"
        !raw "GET a\r\n"
        !raw "SET b 'it\\'s'\r\n"
        !raw "GET b\r\n"
        !raw "  ECHO   spaced   \r\n"
        !raw "ECHO \"\\x41\\n\"\r\n"
        !send "\r\n"
        !send "\n"
        !raw "PING\r\n"
        !raw "NOSUCH a b\r\n"
        !raw "SET\r\n"
        !raw "ECHO \"\"\r\n"
        !raw "ECHO ''\r\n"
        """);

    [Fact]
    public Task Pipelining() => Run("""
        !send "SET p 1\r\nINCR p\r\n*2\r\n$4\r\nINCR\r\n$1\r\np\r\nGET p\r\n"
        !read
        !read
        !read
        !read
        !send "*1\r\n$4\r\nPI"
        !noreply 50
        !send "NG\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
        !read
        !read
        !send "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"
        !read
        !raw "*1\r\n$-1\r\n"
        !closed
        !raw "PING\r\n"
        """);

    [Fact]
    public Task UnbalancedQuotes() => Run("""
        !raw "SET a \"unbalanced\r\n"
        !closed
        !raw "ECHO 'x\r\n"
        !closed
        !raw "ECHO \"a\"b\r\n"
        !closed
        """);

    /// <summary>HTTP sent to the port (Cross Protocol Scripting): closed with no reply, also for a pipelined GET before it.</summary>
    [Fact]
    public Task HttpRequestLinesCloseTheConnectionWithoutReply() => Run("""
        SET k v
        !send "POST / HTTP/1.1\r\nHost: example\r\n\r\n"
        !closed
        !reconnect
        !send "GET k\r\n*2\r\n$5\r\nHost:\r\n$1\r\nx\r\n"
        !closed
        !reconnect
        !send "post\r\n"
        !closed
        !reconnect
        GET k
        """);

    [Fact]
    public Task BadMultibulkLength() => Run("""
        !raw "*abc\r\n"
        !closed
        !send "*1048577\r\n"
        !noreply 100
        !reconnect
        !raw "*-5\r\n$4\r\nPING\r\n"
        !raw "*3000000000\r\n"
        !closed
        !raw "*1\r\nPING\r\n"
        !closed
        !raw "*1\r\n$abc\r\n"
        !closed
        !raw "*1\r\n$-5\r\n"
        !closed
        !raw "*1\r\n$2147483648\r\n"
        !closed
        !raw "*1\r\n$536870913\r\n"
        !closed
        !raw "*1\r\n$4\r\nPINGxx"
        !raw "*2\r\n$4\r\nECHO\r\n+x\r\n"
        !closed
        !raw "*1 \r\n$4\r\nPING\r\n"
        !closed
        !raw "*+1\r\n$4\r\nPING\r\n"
        !closed
        !raw "*1\r\n$+4\r\nPING\r\n"
        !closed
        !raw "*1\r\n$04\r\nPING\r\n"
        """);
}
