using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Checks of the shared harness itself (framing, argument splitting, mismatch detection).</summary>
public class HarnessTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Theory]
    [InlineData("+OK\r\n", 5)]
    [InlineData("$-1\r\n", 5)]
    [InlineData("$3\r\nabc\r\n+x", 9)]
    [InlineData("*2\r\n$1\r\na\r\n:1\r\n", 15)]
    [InlineData("%1\r\n+a\r\n*0\r\n_\r\n", 12)]
    [InlineData("|1\r\n+k\r\n+v\r\n:5\r\n", 16)]
    [InlineData("*2\r\n$1\r\na\r\n", -1)]
    [InlineData("$10\r\nabc", -1)]
    public void FrameLength(string input, int expected)
        => Assert.Equal(expected, RespFormat.FrameLength(Encoding.ASCII.GetBytes(input)));

    [Fact]
    public void SplitArgsLikeRedisCli()
    {
        var a = RespFormat.SplitArgs("set \"a b\\x41\\n\" 'it\\'s' plain");
        Assert.Equal(["set", "a bA\n", "it's", "plain"], a.Select(Encoding.UTF8.GetString));
        Assert.Throws<FormatException>(() => RespFormat.SplitArgs("set \"abc"));
    }

    [Fact]
    public async Task DetectsMismatch()
    {
        // Same command, different data on each side: the runner must report it.
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        using (var c = await pair.Kv.ConnectAsync()) await c.CommandAsync("SET", "only-in-kv", "1");
        var e = await Assert.ThrowsAsync<DifferentialMismatchException>(() => d.RunAsync("GET only-in-kv"));
        Assert.Contains("$-1\\r\\n", e.Message);
        Assert.Contains("$1\\r\\n1\\r\\n", e.Message);
    }

    [Fact]
    public async Task BothAnswerPingAndEcho()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            PING
            ECHO "hello \x00 world"
            !raw "PING\r\n"
            """);
        Assert.Equal(3, d.Compared);
    }
}
