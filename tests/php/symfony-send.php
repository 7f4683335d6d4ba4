<?php
// symfony-send.php - messages through Symfony Mailer's SendmailTransport
// (Debian's php-symfony-mailer), as Symfony, Laravel and Drupal
// applications send them. For tests/callers-php.bats.
//
//   php symfony-send.php COMMAND SUBJECT:TO[,TO...]...
//
// One transport object for COMMAND (by default Symfony's is
// "/usr/sbin/sendmail -bs"), then one message per argument, from
// sender@example.org to the TO addresses, with that SUBJECT (no colon in
// it) and the body "body of SUBJECT" and a line ".leading dot".
// For each message it prints "sent SUBJECT" and the transport's transcript
// of it (SentMessage::getDebug(): "> " lines sent, "< " lines received),
// or "failed SUBJECT: CLASS: MESSAGE" for the exception it got. The
// transport is destroyed (QUIT, the process ends) before the exit status:
// 0 when every message was sent, 1 otherwise. With RESTART=N in the
// environment, the SMTP transport inside restarts (QUIT, a new process)
// every N messages, as Symfony's does every 100; with PING=S, it sends
// NOOP before a message when S seconds have passed since the last one (as
// Symfony does after 100).
require_once '/usr/share/php/Symfony/Component/Mailer/autoload.php';

use Symfony\Component\Mailer\Exception\TransportExceptionInterface;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;

if ($argc < 3) {
    fwrite(STDERR, "usage: php symfony-send.php COMMAND SUBJECT:TO[,TO...]...\n");
    exit(2);
}
$transport = new SendmailTransport($argv[1]);
$inner = new ReflectionProperty($transport, 'transport');
$inner->setAccessible(true);
if (getenv('RESTART')) {
    $inner->getValue($transport)->setRestartThreshold((int) getenv('RESTART'), 0);
}
if (getenv('PING') !== false) {
    $inner->getValue($transport)->setPingThreshold((int) getenv('PING'));
}
$failed = 0;
foreach (array_slice($argv, 2) as $arg) {
    [$subject, $to] = explode(':', $arg, 2);
    $email = (new Email())
        ->from('sender@example.org')
        ->to(...explode(',', $to))
        ->subject($subject)
        ->text("body of $subject\n.leading dot\n");
    try {
        $sent = $transport->send($email);
        echo "sent $subject\n", $sent->getDebug();
    } catch (TransportExceptionInterface $e) {
        echo "failed $subject: ", get_class($e), ': ', $e->getMessage(), "\n";
        $failed++;
    }
}
unset($transport);
exit($failed ? 1 : 0);
